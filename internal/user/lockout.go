package user

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// LockoutPolicy configures account lockout (SPEC §4): after Threshold
// failures within Window the bucket locks for Duration, doubling on each
// repeat up to MaxDuration; a success resets its bucket.
type LockoutPolicy struct {
	Threshold   int
	Window      time.Duration
	Duration    time.Duration
	MaxDuration time.Duration
	// KnownIPWindow is how long a successful sign-in makes an address "known".
	KnownIPWindow time.Duration
}

// DefaultLockoutPolicy returns 5 failures in 15m → 15m, doubling to 24h,
// addresses known for 30 days.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{Threshold: 5, Window: 15 * time.Minute, Duration: 15 * time.Minute,
		MaxDuration: 24 * time.Hour, KnownIPWindow: 30 * 24 * time.Hour}
}

// lockDuration returns the length of the n-th consecutive lock (n ≥ 1).
func (p LockoutPolicy) lockDuration(n int) time.Duration {
	d := p.Duration
	for i := 1; i < n && d < p.MaxDuration; i++ {
		d *= 2
	}
	return min(d, p.MaxDuration)
}

// lockedIn reports whether the bucket is locked at now.
func lockedIn(l *Lockout, now time.Time) bool {
	return l.LockedUntil != nil && l.LockedUntil.After(now)
}

// reserve counts an attempt in the bucket before it is evaluated, atomically
// with the check: at most Threshold attempts are ever evaluated in a window,
// however many arrive at once. It returns ErrLocked when the bucket is locked
// or already has Threshold attempts in flight or failed.
func (s *Service) reserve(ctx context.Context, userID, bucket string, now time.Time) error {
	_, err := s.store.UpdateLockout(ctx, userID, bucket, now, func(l *Lockout) error {
		if lockedIn(l, now) {
			return ErrLocked
		}
		if now.Sub(l.WindowStart) > s.lockout.Window || l.LockedUntil != nil {
			l.Failures, l.WindowStart, l.LockedUntil = 0, now, nil
		}
		if l.Failures >= s.lockout.Threshold {
			return ErrLocked
		}
		l.Failures++
		return nil
	})
	return err
}

// settle closes a reserved attempt: a success resets the bucket; a failure
// stays counted and, at the threshold, locks the bucket and the account.
func (s *Service) settle(ctx context.Context, userID, bucket string, ok bool, now time.Time) error {
	var locked *Lockout
	_, err := s.store.UpdateLockout(ctx, userID, bucket, now, func(l *Lockout) error {
		if ok {
			l.Failures, l.Locks, l.LockedUntil, l.WindowStart = 0, 0, nil, now
			return nil
		}
		if l.Failures >= s.lockout.Threshold && !lockedIn(l, now) {
			l.Locks++
			until := now.Add(s.lockout.lockDuration(l.Locks))
			l.LockedUntil, l.Failures = &until, 0
			locked = l
		}
		return nil
	})
	if err != nil || locked == nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		_, err := s.store.UpdateUser(ctx, userID, func(u *User) error {
			if u.Status == StatusActive || u.Status == StatusLocked {
				u.Status = StatusLocked
				if u.LockedUntil == nil || u.LockedUntil.Before(*locked.LockedUntil) {
					u.LockedUntil = locked.LockedUntil
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "user.locked", Actor: audit.Ref{Type: audit.TypeSystem, ID: "lockout"},
			Target: userRef(userID), Reason: bucket + "_failures",
			Metadata: map[string]any{"bucket": bucket, "locked_until": locked.LockedUntil.UTC().Format(time.RFC3339), "lock": locked.Locks}})
	})
}

// passwordBucket chooses the bucket of a sign-in from ip.
func (s *Service) passwordBucket(ctx context.Context, userID, ip string, now time.Time) (string, error) {
	if ip == "" {
		return BucketPassword, nil
	}
	known, err := s.store.IsKnownIP(ctx, userID, ip, now.Add(-s.lockout.KnownIPWindow))
	if err != nil {
		return "", err
	}
	if known {
		return BucketPasswordKnown, nil
	}
	return BucketPassword, nil
}

// mfaLocked reports whether the MFA bucket of the user is locked.
func (s *Service) mfaLocked(ctx context.Context, userID string, now time.Time) (bool, error) {
	ls, err := s.store.GetLockouts(ctx, userID)
	if err != nil {
		return false, err
	}
	for i := range ls {
		if ls[i].Bucket == BucketMFA && lockedIn(&ls[i], now) {
			return true, nil
		}
	}
	return false, nil
}

// BeginMFA reserves an MFA attempt (second factor after a correct
// password); ErrLocked when MFA failures locked the account.
func (s *Service) BeginMFA(ctx context.Context, userID string) error {
	return s.reserve(ctx, userID, BucketMFA, s.now().UTC())
}

// EndMFA settles a reserved MFA attempt.
func (s *Service) EndMFA(ctx context.Context, userID string, ok bool) error {
	return s.settle(ctx, userID, BucketMFA, ok, s.now().UTC())
}
