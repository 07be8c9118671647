package user

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// SessionRevoker revokes a user's sessions and tokens. The oauth package
// implements it; user cannot import oauth.
type SessionRevoker interface {
	// RevokeUser revokes every session of the user except the one with id
	// except ("" for none), and with except == "" every access token too.
	RevokeUser(ctx context.Context, userID, except, reason string) error
}

// Errors of Authenticate. ErrInvalidCredentials covers unknown users and
// wrong passwords alike (no enumeration).
var (
	ErrInvalidCredentials = apperr.Unauthenticated("invalid_credentials", "invalid username or password")
	ErrDisabled           = apperr.Forbidden("user_disabled", "the account is disabled")
	ErrLocked             = apperr.Forbidden("user_locked", "the account is temporarily locked")
)

// ActivationTTL is how long an activation token is good for.
const ActivationTTL = 24 * time.Hour

// Service manages users. Every change is audited in its own transaction.
type Service struct {
	store   Store
	rbac    *rbac.Service
	audit   *audit.Recorder
	hasher  *Hasher
	policy  Policy
	lockout LockoutPolicy
	revoker SessionRevoker
	now     func() time.Time
}

// NewService wires a user Service.
func NewService(store Store, roles *rbac.Service, rec *audit.Recorder, hasher *Hasher, policy Policy, lockout LockoutPolicy, revoker SessionRevoker) *Service {
	return &Service{store: store, rbac: roles, audit: rec, hasher: hasher, policy: policy, lockout: lockout, revoker: revoker,
		// Microseconds: what both engines store, so a response equals a later read.
		now: func() time.Time { return time.Now().Truncate(time.Microsecond) }}
}

// Policy returns the password policy.
func (s *Service) Policy() Policy { return s.policy }

// Hasher returns the password hashing pool.
func (s *Service) Hasher() *Hasher { return s.hasher }

// NewUser is the input of Create. A nil Password makes a pending user.
type NewUser struct {
	Username    string
	Email       string
	DisplayName string
	Password    *string
	Roles       []string
	Groups      []string
	// MustChangePassword forces a change at first sign-in (generated passwords).
	MustChangePassword bool
	// PasswordHash, for imports, is an existing bcrypt or argon2id hash used instead of Password.
	PasswordHash string
	Status       Status
}

// Create validates and inserts a user. Without a password the user is
// pending and the returned activation token (shown once) lets them set one.
func (s *Service) Create(ctx context.Context, in NewUser) (*User, string, error) {
	u, err := s.validateNew(ctx, in)
	if err != nil {
		return nil, "", err
	}
	switch {
	case in.PasswordHash != "":
		if err := ValidHash(in.PasswordHash); err != nil {
			return nil, "", apperr.InvalidField("password_hash", "must be a bcrypt ($2a$, $2b$, $2y$) or PHC argon2id hash")
		}
		u.PasswordHash = in.PasswordHash
	case in.Password != nil:
		if err := s.policy.Check(*in.Password, u.Username, u.Email); err != nil {
			return nil, "", err
		}
		if u.PasswordHash, err = s.hasher.Hash(ctx, *in.Password); err != nil {
			return nil, "", err
		}
	}
	now := s.now().UTC()
	u.ID = secret.RandomID("usr")
	u.CreatedAt, u.UpdatedAt = now, now
	u.MustChangePassword = in.MustChangePassword
	switch {
	case in.Status != "":
		u.Status = in.Status
	case u.PasswordHash == "":
		u.Status = StatusPending
	default:
		u.Status = StatusActive
	}
	if u.PasswordHash != "" {
		u.PasswordChangedAt = &now
	}
	var token string
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateUser(ctx, u); err != nil {
			return err
		}
		if u.Status == StatusPending {
			if token, err = s.newActivation(ctx, u.ID); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Event{Action: "user.created", Target: userRef(u.ID),
			Metadata: map[string]any{"username": u.Username, "roles": u.Roles, "groups": u.Groups, "status": string(u.Status)}})
	})
	if err != nil {
		return nil, "", err
	}
	return u, token, nil
}

func (s *Service) validateNew(ctx context.Context, in NewUser) (*User, error) {
	name, key, err := NormalizeUsername(in.Username)
	if err != nil {
		return nil, err
	}
	email, emailKey, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := ValidateDisplayName(in.DisplayName); err != nil {
		return nil, err
	}
	if in.Status != "" && !in.Status.Valid() {
		return nil, apperr.InvalidField("status", "must be pending, active, locked or disabled")
	}
	roles, groups := dedupe(in.Roles), dedupe(in.Groups)
	if len(roles) == 0 && len(groups) == 0 {
		groups = []string{rbac.GroupUser}
	}
	if err := s.checkNames(ctx, roles, groups); err != nil {
		return nil, err
	}
	return &User{Username: name, UsernameKey: key, Email: email, EmailKey: emailKey,
		DisplayName: in.DisplayName, Roles: roles, Groups: groups}, nil
}

func (s *Service) checkNames(ctx context.Context, roles, groups []string) error {
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if _, ok := snap.Role(r); !ok {
			return apperr.InvalidField("roles", "unknown role "+quote(r)+"; list roles with GET /api/v1/roles")
		}
	}
	for _, g := range groups {
		if _, ok := snap.Group(g); !ok {
			return apperr.InvalidField("groups", "unknown group "+quote(g)+"; list groups with GET /api/v1/groups")
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + s + "\""
}

// Get returns a user; NotFound user_not_found.
func (s *Service) Get(ctx context.Context, id string) (*User, error) {
	u, err := s.store.GetUser(ctx, id)
	return withExpiredLock(u, s.now()), err
}

// GetByUsername looks a user up by username (any case).
func (s *Service) GetByUsername(ctx context.Context, username string) (*User, error) {
	key := UsernameKey(username)
	if key == "" {
		return nil, apperr.NotFound(apperr.CodeUserNotFound, "no such user")
	}
	return s.store.GetUserByUsername(ctx, key)
}

// List returns a page of users.
func (s *Service) List(ctx context.Context, q ListQuery) ([]*User, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, apperr.InvalidField("status", "must be pending, active, locked or disabled")
	}
	if len(q.Q) > 256 {
		return nil, apperr.InvalidField("q", "must be at most 256 bytes")
	}
	users, err := s.store.ListUsers(ctx, q)
	for _, u := range users {
		withExpiredLock(u, s.now())
	}
	return users, err
}

// Patch holds the profile fields an update may change; nil means unchanged.
type Patch struct {
	Email       *string
	DisplayName *string
}

// Update changes profile fields. Audited as user.updated.
func (s *Service) Update(ctx context.Context, id string, p Patch) (*User, error) {
	var email, emailKey string
	var err error
	if p.Email != nil {
		if email, emailKey, err = NormalizeEmail(*p.Email); err != nil {
			return nil, err
		}
	}
	if p.DisplayName != nil {
		if err := ValidateDisplayName(*p.DisplayName); err != nil {
			return nil, err
		}
	}
	return s.change(ctx, id, "user.updated", nil, func(u *User) (map[string]any, error) {
		md := map[string]any{}
		if p.Email != nil && email != u.Email {
			u.Email, u.EmailKey = email, emailKey
			md["email_changed"] = true
		}
		if p.DisplayName != nil {
			u.DisplayName = *p.DisplayName
			md["display_name_changed"] = true
		}
		return md, nil
	})
}

// UpdateProfile is a user's change of their own profile (PATCH
// /api/v1/me): the display name freely, the email only with the current
// password (SPEC §15: changing the email needs re-authentication; an admin's
// Update does not). A missing current password is invalid (422 on
// current_password), a wrong one is wrong_password, audited as a failed
// user.updated. Otherwise Update.
func (s *Service) UpdateProfile(ctx context.Context, id string, p Patch, currentPassword string) (*User, error) {
	if p.Email != nil {
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		email, _, err := NormalizeEmail(*p.Email)
		if err != nil {
			return nil, err
		}
		if email != u.Email {
			if currentPassword == "" {
				return nil, apperr.InvalidField("current_password", "is required to change the email")
			}
			ok, _, err := s.hasher.Verify(ctx, currentPassword, u.PasswordHash)
			if err != nil && !errors.Is(err, ErrUnknownHash) {
				return nil, err
			}
			if !ok {
				_ = s.audit.Record(ctx, audit.Event{Action: "user.updated", Target: userRef(id), Outcome: audit.OutcomeFailure, Reason: "wrong_current_password"})
				return nil, apperr.Invalid(apperr.CodeWrongPassword, "the current password is wrong").WithField("current_password", "is not the current password")
			}
		}
	}
	return s.Update(ctx, id, p)
}

// change runs one audited read-modify-write of a user. fn returns the event
// metadata. When guard is set, the last-admin safeguard runs on the result.
func (s *Service) change(ctx context.Context, id, action string, after func(ctx context.Context, before, after *User) error, fn func(*User) (map[string]any, error)) (*User, error) {
	var out *User
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var before User
		var md map[string]any
		u, err := s.store.UpdateUser(ctx, id, func(u *User) error {
			before = *u
			before.Roles, before.Groups = slices.Clone(u.Roles), slices.Clone(u.Groups)
			var err error
			md, err = fn(u)
			u.UpdatedAt = s.now().UTC()
			return err
		})
		if err != nil {
			return err
		}
		if after != nil {
			if err := after(ctx, &before, u); err != nil {
				return err
			}
		}
		out = u
		return s.audit.Record(ctx, audit.Event{Action: action, Target: userRef(id), Metadata: md})
	})
	return out, err
}

// guardLastAdmin refuses a change that leaves no active admin (SPEC §3):
// Conflict last_admin when before was an active admin, after is not, and no
// other active user is one. Who is an admin is rbac's one definition
// (rbac.AdminPermissions), read under the admin lock inside the change's
// transaction, so neither a stale cache nor a concurrent role, group or user
// edit can let two changes each leave the other to be the last admin.
func (s *Service) guardLastAdmin(ctx context.Context, before, after *User) error {
	snap, err := s.rbac.LockAdmins(ctx)
	if err != nil {
		return err
	}
	wasAdmin := before.Status == StatusActive && snap.IsAdmin(before.Roles, before.Groups)
	isNow := after != nil && after.Status == StatusActive && snap.IsAdmin(after.Roles, after.Groups)
	if !wasAdmin || isNow {
		return nil
	}
	// The change is already applied inside this transaction, so n counts
	// the admins that would remain.
	n, err := s.rbac.CountAdmins(ctx, snap)
	if err != nil {
		return err
	}
	if n < 1 {
		return apperr.Conflict(apperr.CodeLastAdmin, "this is the last active admin; make another user admin first")
	}
	return nil
}

// AdminCount returns the number of active admins (for doctor and the
// dashboard), as rbac.Service.AdminCount defines them.
func (s *Service) AdminCount(ctx context.Context) (int, error) {
	return s.rbac.AdminCount(ctx)
}

// Disable disables a user and revokes every session and token at once.
func (s *Service) Disable(ctx context.Context, id string) (*User, error) {
	return s.change(ctx, id, "user.disabled", func(ctx context.Context, before, after *User) error {
		if err := s.guardLastAdmin(ctx, before, after); err != nil {
			return err
		}
		return s.revoker.RevokeUser(ctx, id, "", "user_disabled")
	}, func(u *User) (map[string]any, error) {
		u.Status = StatusDisabled
		return nil, nil
	})
}

// Enable re-enables a disabled or locked user, clearing its failure counters.
func (s *Service) Enable(ctx context.Context, id string) (*User, error) {
	return s.change(ctx, id, "user.enabled", func(ctx context.Context, _, _ *User) error {
		return s.store.ClearLockouts(ctx, id)
	}, func(u *User) (map[string]any, error) {
		if u.Status == StatusPending {
			return nil, apperr.Conflict(apperr.CodeUserNotActive, "a pending user becomes active by activation, not enable")
		}
		u.Status, u.LockedUntil = StatusActive, nil
		return nil, nil
	})
}

// Unlock ends a lockout early: every failure counter of the user is cleared.
func (s *Service) Unlock(ctx context.Context, id string) (*User, error) {
	return s.change(ctx, id, "user.unlocked", func(ctx context.Context, _, _ *User) error {
		return s.store.ClearLockouts(ctx, id)
	}, func(u *User) (map[string]any, error) {
		if u.Status == StatusLocked {
			u.Status = StatusActive
		}
		u.LockedUntil = nil
		return nil, nil
	})
}

// SetRoles replaces a user's direct roles. The last admin cannot be demoted.
func (s *Service) SetRoles(ctx context.Context, id string, roles []string) (*User, error) {
	roles = dedupe(roles)
	if err := s.checkNames(ctx, roles, nil); err != nil {
		return nil, err
	}
	return s.change(ctx, id, "user.roles_changed", s.guardLastAdmin, func(u *User) (map[string]any, error) {
		md := map[string]any{"before": u.Roles, "after": roles, "added": diff(roles, u.Roles), "removed": diff(u.Roles, roles)}
		u.Roles = roles
		return md, nil
	})
}

// SetGroups replaces a user's groups. The last admin cannot be demoted.
func (s *Service) SetGroups(ctx context.Context, id string, groups []string) (*User, error) {
	groups = dedupe(groups)
	if err := s.checkNames(ctx, nil, groups); err != nil {
		return nil, err
	}
	return s.change(ctx, id, "user.groups_changed", s.guardLastAdmin, func(u *User) (map[string]any, error) {
		md := map[string]any{"before": u.Groups, "after": groups, "added": diff(groups, u.Groups), "removed": diff(u.Groups, groups)}
		u.Groups = groups
		return md, nil
	})
}

// Delete removes a user; the audit trail stays. The last admin cannot be deleted.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return err
		}
		// Check the safeguard before revoking anything: a revocation applies
		// in memory at once, even when this transaction then rolls back, so a
		// refused delete of the last admin would still kill their tokens.
		gone, err := s.store.UpdateUser(ctx, id, func(x *User) error { x.Status = StatusDisabled; return nil })
		if err != nil {
			return err
		}
		if err := s.guardLastAdmin(ctx, u, gone); err != nil {
			return err
		}
		if err := s.revoker.RevokeUser(ctx, id, "", "user_deleted"); err != nil {
			return err
		}
		if err := s.store.DeleteUser(ctx, id); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "user.deleted", Target: userRef(id), Metadata: map[string]any{"username": u.Username}})
	})
}

// SetPassword sets a user's password as an admin and revokes their sessions.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u, password, "", map[string]any{"by": "admin"})
}

// ChangePassword changes the caller's own password after checking the current
// one, and revokes their other sessions (keepSession stays).
func (s *Service) ChangePassword(ctx context.Context, id, current, next, keepSession string) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil && !errors.Is(err, ErrUnknownHash) {
		return err
	}
	if !ok {
		_ = s.audit.Record(ctx, audit.Event{Action: "user.password_changed", Target: userRef(id), Outcome: audit.OutcomeFailure, Reason: "wrong_current_password"})
		return apperr.Invalid(apperr.CodeWrongPassword, "the current password is wrong").WithField("current_password", "is not the current password")
	}
	if current == next {
		return apperr.InvalidField("new_password", "must differ from the current password")
	}
	return s.setPassword(ctx, u, next, keepSession, map[string]any{"by": "self"})
}

func (s *Service) setPassword(ctx context.Context, u *User, password, keepSession string, md map[string]any) error {
	if err := s.policy.Check(password, u.Username, u.Email); err != nil {
		return err
	}
	if err := s.checkHistory(ctx, u, password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if s.policy.History > 0 && u.PasswordHash != "" {
		if err := s.store.AddPasswordHistory(ctx, u.ID, u.PasswordHash, s.now().UTC(), s.policy.History); err != nil {
			return err
		}
	}
	_, err = s.change(ctx, u.ID, "user.password_changed", func(ctx context.Context, _, _ *User) error {
		return s.revoker.RevokeUser(ctx, u.ID, keepSession, "password_changed")
	}, func(u *User) (map[string]any, error) {
		now := s.now().UTC()
		u.PasswordHash, u.MustChangePassword, u.PasswordChangedAt = hash, false, &now
		return md, nil
	})
	return err
}

// checkHistory refuses the current password and the last Policy.History ones.
func (s *Service) checkHistory(ctx context.Context, u *User, password string) error {
	if s.policy.History <= 0 {
		return nil
	}
	hashes, err := s.store.ListPasswordHistory(ctx, u.ID, s.policy.History)
	if err != nil {
		return err
	}
	if u.PasswordHash != "" {
		hashes = append([]string{u.PasswordHash}, hashes...)
	}
	for _, h := range hashes {
		ok, _, err := s.hasher.Verify(ctx, password, h)
		if err != nil && !errors.Is(err, ErrUnknownHash) {
			return err
		}
		if ok {
			return weak("must not be one of your last %d passwords", s.policy.History)
		}
	}
	return nil
}

// IssueActivation replaces a pending user's activation token with a new one.
func (s *Service) IssueActivation(ctx context.Context, id string) (token string, expires time.Time, err error) {
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return err
		}
		if u.Status != StatusPending {
			return apperr.Conflict(apperr.CodeUserNotActive, "only a pending user can be activated; this one is %s", u.Status)
		}
		if err := s.store.DeleteOneTimeTokens(ctx, id, TokenActivation); err != nil {
			return err
		}
		if token, err = s.newActivation(ctx, id); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "user.activation_issued", Target: userRef(id)})
	})
	return token, s.now().UTC().Add(ActivationTTL), err
}

func (s *Service) newActivation(ctx context.Context, userID string) (string, error) {
	tok := secret.Token()
	now := s.now().UTC()
	err := s.store.CreateOneTimeToken(ctx, &OneTimeToken{Hash: secret.Hash(tok), Kind: TokenActivation, UserID: userID,
		CreatedAt: now, ExpiresAt: now.Add(ActivationTTL)})
	return tok, err
}

// Activate sets the first password of a pending user with their single-use token.
func (s *Service) Activate(ctx context.Context, token, password string) error {
	invalid := apperr.Invalid(apperr.CodeInvalidActivation, "the activation token is invalid, used or expired; ask an admin for a new one").
		WithField("activation_token", "is invalid, used or expired")
	if token == "" || len(token) > 128 {
		return invalid
	}
	hash := secret.Hash(token)
	t, err := s.store.GetOneTimeToken(ctx, hash, TokenActivation, s.now().UTC())
	if apperr.Is(err, apperr.KindNotFound) {
		return invalid
	} else if err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if err != nil {
		return err
	}
	if err := s.policy.Check(password, u.Username, u.Email); err != nil {
		return err
	}
	pwHash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.ConsumeOneTimeToken(ctx, hash, TokenActivation, s.now().UTC()); apperr.Is(err, apperr.KindNotFound) {
			return invalid
		} else if err != nil {
			return err
		}
		_, err := s.store.UpdateUser(ctx, t.UserID, func(u *User) error {
			if u.Status != StatusPending {
				return invalid
			}
			now := s.now().UTC()
			u.PasswordHash, u.Status, u.PasswordChangedAt, u.UpdatedAt = pwHash, StatusActive, &now, now
			return nil
		})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "user.activated", Actor: userRef(t.UserID), Target: userRef(t.UserID)})
	})
}

func userRef(id string) audit.Ref { return audit.Ref{Type: audit.TypeUser, ID: id} }

func dedupe(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// SetTOTPEnabled records whether the user has a confirmed TOTP enrolment
// (the mfa package calls it inside its own transaction).
func (s *Service) SetTOTPEnabled(ctx context.Context, userID string, on bool) error {
	_, err := s.store.UpdateUser(ctx, userID, func(u *User) error {
		u.TOTPEnabled = on
		u.UpdatedAt = s.now().UTC()
		return nil
	})
	return err
}
