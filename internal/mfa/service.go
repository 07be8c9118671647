package mfa

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Service enrols, verifies and removes second factors. Changes of the
// enrolment are audited as auth.mfa.enroll (Appendix A has no other MFA
// change action) with metadata {"factor":"totp","change":…}, where change
// is "enrolled", "removed" or "recovery_codes_regenerated", in the same
// transaction as the change; an admin's Reset is one auth.mfa.reset. Verification is not audited here: the caller
// (the MFA grant) records auth.mfa.verify with the outcome.
type Service struct {
	store   Store
	keyring *secret.Keyring
	audit   *audit.Recorder
	users   Users
	issuer  string
	skew    int64
	now     func() time.Time
}

// NewService wires an mfa Service. users keeps user.User.TOTPEnabled in
// step (the user Service implements it).
func NewService(opts Options, store Store, keyring *secret.Keyring, rec *audit.Recorder, users Users) *Service {
	issuer := strings.ReplaceAll(strings.TrimSpace(opts.Issuer), ":", "-")
	if issuer == "" {
		issuer = "Gatehouse"
	}
	skew := int64(min(opts.Skew, MaxSkew))
	if skew == 0 {
		skew = 1
	}
	return &Service{store: store, keyring: keyring, audit: rec, users: users, issuer: issuer, skew: skew,
		// Microseconds: what both engines store, so a response equals a later read.
		now: func() time.Time { return time.Now().Truncate(time.Microsecond) }}
}

// Enrolled reports whether the user has a confirmed TOTP enrolment.
func (s *Service) Enrolled(ctx context.Context, userID string) (bool, error) {
	t, err := s.store.GetTOTP(ctx, userID)
	if apperr.Is(err, apperr.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.Confirmed, nil
}

// Remove deletes the user's TOTP enrolment (confirmed or pending) and every
// recovery code, clears user.User.TOTPEnabled, and records auth.mfa.enroll
// with change "removed", in one transaction. It does not check a code: the
// caller re-authenticates the user first (SPEC §15), or is an admin
// resetting a lost device. NotFound mfa_not_enrolled when there is nothing
// to remove.
func (s *Service) Remove(ctx context.Context, userID string) error {
	now := s.now().UTC()
	return s.store.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.GetTOTP(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.clear(ctx, userID, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "auth.mfa.enroll", Target: userRef(userID), Reason: "removed",
			Metadata: map[string]any{"factor": "totp", "change": "removed", "was_confirmed": t.Confirmed}})
	})
}

// Reset is an admin's reset of a user's second factor (a lost device): in
// one transaction it removes the TOTP enrolment and recovery codes when
// there are any, runs endSessions (which ends the user's sessions and joins
// the transaction), and records one auth.mfa.reset, so the change, the
// revocations and their record commit together (SPEC §10). A user without
// an enrolment is reset all the same: their sessions end.
func (s *Service) Reset(ctx context.Context, userID string, endSessions func(ctx context.Context) error) error {
	now := s.now().UTC()
	return s.store.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.GetTOTP(ctx, userID)
		enrolled := err == nil
		switch {
		case apperr.Is(err, apperr.KindNotFound):
		case err != nil:
			return err
		default:
			if err := s.clear(ctx, userID, now); err != nil {
				return err
			}
		}
		if err := endSessions(ctx); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "auth.mfa.reset", Target: userRef(userID),
			Metadata: map[string]any{"factor": "totp", "was_enrolled": enrolled, "was_confirmed": enrolled && t.Confirmed}})
	})
}

// clear deletes the user's TOTP enrolment and recovery codes and clears
// user.User.TOTPEnabled, inside the caller's transaction.
func (s *Service) clear(ctx context.Context, userID string, now time.Time) error {
	if err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return err
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, nil, now); err != nil {
		return err
	}
	return s.users.SetTOTPEnabled(ctx, userID, false)
}

func userRef(id string) audit.Ref { return audit.Ref{Type: audit.TypeUser, ID: id} }
