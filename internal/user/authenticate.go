package user

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Authenticate checks a username and password. An unknown username, a
// pending account and a wrong password all cost one hash and return
// ErrInvalidCredentials. Only after a correct password does it reveal that an
// account is disabled (ErrDisabled).
//
// Lockout (SPEC §4): each attempt is counted in its bucket before it is
// evaluated (failures from addresses the user signed in from in the last 30
// days count apart from failures elsewhere). A locked bucket answers
// ErrLocked after a dummy hash, so timing tells nothing; the server shows the
// client the same "invalid username or password" and audits reason locked.
// On success it resets the bucket, remembers the address, records the login
// time, and upgrades a bcrypt or outdated argon2 hash.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	// Take the place in the hashing pool first: a full pool refuses before
	// any database work (503 after at most the pool's AdmitWait, not after
	// lockout writes).
	ticket, err := s.hasher.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer ticket.Release()
	var u *User
	if key := UsernameKey(username); key != "" && len(password) <= 4*s.policy.MaxLength {
		u, err = s.store.GetUserByUsername(ctx, key)
		if err != nil && !apperr.Is(err, apperr.KindNotFound) {
			return nil, err
		}
	}
	if u == nil || u.Status == StatusPending {
		if _, _, err := ticket.Verify(ctx, password, ""); err != nil {
			return nil, err
		}
		return u, ErrInvalidCredentials
	}
	now := s.now().UTC()
	bucket, err := s.passwordBucket(ctx, u.ID, audit.RequestFrom(ctx).IP, now)
	if err != nil {
		return nil, err
	}
	locked, err := s.mfaLocked(ctx, u.ID, now)
	if err == nil && !locked {
		err = s.reserve(ctx, u.ID, bucket, now)
		locked = errors.Is(err, ErrLocked)
	}
	if locked {
		if _, _, err := ticket.Verify(ctx, password, ""); err != nil {
			return nil, err
		}
		return u, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := ticket.Verify(ctx, password, u.PasswordHash)
	if err != nil && !errors.Is(err, ErrUnknownHash) {
		s.release(context.WithoutCancel(ctx), u.ID, bucket, now) // not evaluated (pool full, cancelled): not a failure
		return nil, err
	}
	if errors.Is(err, ErrUnknownHash) {
		slog.WarnContext(ctx, "stored password hash cannot be verified", "user_id", u.ID, "err", err)
		ok = false
	}
	if !ok || u.Status == StatusDisabled {
		if err := s.settle(ctx, u.ID, bucket, ok, now); err != nil {
			return nil, err
		}
		if !ok {
			return u, ErrInvalidCredentials
		}
		return u, ErrDisabled
	}
	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			newHash = "" // the pool is busy: upgrade next time
		}
	}
	// A success is recorded in one transaction (one commit, and all of it
	// or nothing): the bucket reset, the known address, the login time.
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.settle(ctx, u.ID, bucket, true, now); err != nil {
			return err
		}
		if ip := audit.RequestFrom(ctx).IP; ip != "" {
			if err := s.store.RecordKnownIP(ctx, u.ID, ip, now); err != nil {
				return err
			}
		}
		stillLocked, err := s.anyLocked(ctx, u.ID, now)
		if err != nil {
			return err
		}
		u, err = s.store.UpdateUser(ctx, u.ID, func(u *User) error {
			u.LastLoginAt = &now
			if u.Status == StatusLocked && !stillLocked {
				u.Status, u.LockedUntil = StatusActive, nil
			}
			if newHash != "" {
				u.PasswordHash = newHash
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// release gives back a reserved attempt that was never evaluated.
func (s *Service) release(ctx context.Context, userID, bucket string, now time.Time) {
	_, err := s.store.UpdateLockout(ctx, userID, bucket, now, func(l *Lockout) error {
		if l.Failures > 0 {
			l.Failures--
		}
		return nil
	})
	if err != nil {
		slog.WarnContext(ctx, "releasing a lockout reservation failed", "user_id", userID, "err", err)
	}
}

// anyLocked reports whether any bucket of the user is locked at now.
func (s *Service) anyLocked(ctx context.Context, userID string, now time.Time) (bool, error) {
	ls, err := s.store.GetLockouts(ctx, userID)
	if err != nil {
		return false, err
	}
	for i := range ls {
		if lockedIn(&ls[i], now) {
			return true, nil
		}
	}
	return false, nil
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
