package user

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Authenticate checks a username and password. An unknown username, a
// pending account and a wrong password all cost one hash and return
// ErrInvalidCredentials. Only after a correct password does it reveal that an
// account is disabled (ErrDisabled) or locked (ErrLocked). On success it
// records the login time and upgrades a bcrypt or outdated argon2 hash.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	var u *User
	if key := UsernameKey(username); key != "" && len(password) <= 4*s.policy.MaxLength {
		var err error
		u, err = s.store.GetUserByUsername(ctx, key)
		if err != nil && !apperr.Is(err, apperr.KindNotFound) {
			return nil, err
		}
	}
	stored := ""
	if u != nil && u.Status != StatusPending {
		stored = u.PasswordHash
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, stored)
	if errors.Is(err, ErrUnknownHash) {
		slog.WarnContext(ctx, "stored password hash cannot be verified", "user_id", u.ID, "err", err)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if !ok || u == nil {
		return u, ErrInvalidCredentials
	}
	now := s.now().UTC()
	switch u.Status {
	case StatusDisabled:
		return u, ErrDisabled
	case StatusLocked:
		if u.LockedUntil != nil && u.LockedUntil.After(now) {
			return u, ErrLocked
		}
	}
	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			newHash = "" // the pool is busy: upgrade next time
		}
	}
	u, err = s.store.UpdateUser(ctx, u.ID, func(u *User) error {
		u.LastLoginAt = &now
		if u.Status == StatusLocked {
			u.Status, u.LockedUntil = StatusActive, nil
		}
		if newHash != "" {
			u.PasswordHash = newHash
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Bootstrap is the result of EnsureBootstrapAdmin.
type Bootstrap struct {
	Created  bool
	Username string
	// Generated is the one-time password when none was supplied; print it once.
	Generated secret.Value
}

// EnsureBootstrapAdmin creates the first admin when no active admin exists.
// With an operator-supplied password the account is ready; otherwise a
// random password is generated, returned once, and must be changed at the
// first sign-in.
func (s *Service) EnsureBootstrapAdmin(ctx context.Context, username string, password secret.Value) (Bootstrap, error) {
	n, err := s.AdminCount(ctx)
	if err != nil || n > 0 {
		return Bootstrap{}, err
	}
	if _, err := s.GetByUsername(ctx, username); err == nil {
		return Bootstrap{}, apperr.Conflict(apperr.CodeUsernameTaken,
			"no active admin exists but user %q does; enable it (gatehouse user enable) or set GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME to another name", username)
	}
	in := NewUser{Username: username, DisplayName: "Administrator", Groups: []string{rbac.GroupAdmin}}
	var b Bootstrap
	if password.IsZero() {
		pw := secret.Token()[:32]
		b.Generated = secret.NewValue(pw)
		in.MustChangePassword = true
		// A generated password is 192 random bits: policy checks are moot.
		hash, err := s.hasher.Hash(ctx, pw)
		if err != nil {
			return Bootstrap{}, err
		}
		in.PasswordHash = hash
	} else {
		pw := password.Reveal()
		in.Password = &pw
	}
	if _, _, err := s.Create(ctx, in); err != nil {
		return Bootstrap{}, err
	}
	b.Created, b.Username = true, username
	return b, nil
}
