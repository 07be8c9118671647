package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
)

// pendingTOTP returns a pending enrolment of the user sealed as sealed.
func pendingTOTP(userID, sealed string) *mfa.TOTP {
	return &mfa.TOTP{UserID: userID, SecretSealed: sealed, CreatedAt: t0}
}

// wantOK fails t unless the (bool, error) result is (want, nil).
func wantOK(t *testing.T, what string, got bool, err error, want bool) {
	t.Helper()
	must(t, err)
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

var mfaTests = []test{
	{"PendingThenConfirmed", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		_, err := s.GetTOTP(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, mfa.CodeNotEnrolled)

		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed-1")))
		got, err := s.GetTOTP(ctx, "usr_alice")
		must(t, err)
		if d := cmp.Diff(pendingTOTP("usr_alice", "sealed-1"), got); d != "" {
			t.Fatalf("GetTOTP (-want +got):\n%s", d)
		}
		// A new Begin replaces the pending enrolment.
		later := pendingTOTP("usr_alice", "sealed-2")
		later.CreatedAt = t0.Add(time.Minute)
		must(t, s.PutPendingTOTP(ctx, later))

		now := t0.Add(2 * time.Minute)
		ok, err := s.ConfirmTOTP(ctx, "usr_alice", "sealed-1", 100, now)
		wantOK(t, "ConfirmTOTP of the replaced secret", ok, err, false)
		ok, err = s.ConfirmTOTP(ctx, "usr_alice", "sealed-2", 100, now)
		wantOK(t, "ConfirmTOTP", ok, err, true)
		ok, err = s.ConfirmTOTP(ctx, "usr_alice", "sealed-2", 101, now)
		wantOK(t, "ConfirmTOTP again", ok, err, false)

		got, err = s.GetTOTP(ctx, "usr_alice")
		must(t, err)
		want := &mfa.TOTP{UserID: "usr_alice", SecretSealed: "sealed-2", Confirmed: true,
			CreatedAt: later.CreatedAt, ConfirmedAt: &now, LastStep: 100}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("GetTOTP after confirm (-want +got):\n%s", d)
		}
		// A confirmed enrolment is never overwritten by a pending one.
		err = s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed-3"))
		wantErr(t, err, apperr.KindConflict, mfa.CodeAlreadyEnrolled)
		got, err = s.GetTOTP(ctx, "usr_alice")
		must(t, err)
		if got.SecretSealed != "sealed-2" || !got.Confirmed {
			t.Fatalf("after refused PutPendingTOTP: %+v", got)
		}
	}},
	{"PutPendingForUnknownUser", func(t *testing.T, s *store.Store) {
		err := s.PutPendingTOTP(t.Context(), pendingTOTP("usr_none", "sealed"))
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	}},
	{"UseTOTPStepOncePerStep", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		ok, err := s.UseTOTPStep(ctx, "usr_alice", 100)
		wantOK(t, "UseTOTPStep without enrolment", ok, err, false)
		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed")))
		ok, err = s.UseTOTPStep(ctx, "usr_alice", 100)
		wantOK(t, "UseTOTPStep of a pending enrolment", ok, err, false)
		ok, err = s.ConfirmTOTP(ctx, "usr_alice", "sealed", 100, t0)
		wantOK(t, "ConfirmTOTP", ok, err, true)

		for _, tc := range []struct {
			step int64
			want bool
		}{{100, false}, {101, true}, {101, false}, {100, false}, {105, true}, {103, false}, {106, true}} {
			ok, err := s.UseTOTPStep(ctx, "usr_alice", tc.step)
			wantOK(t, "UseTOTPStep", ok, err, tc.want)
		}
		ok, err = s.UseTOTPStep(ctx, "usr_bob", 200)
		wantOK(t, "UseTOTPStep of another user", ok, err, false)
	}},
	{"UseTOTPStepConcurrently", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed")))
		ok, err := s.ConfirmTOTP(ctx, "usr_alice", "sealed", 100, t0)
		wantOK(t, "ConfirmTOTP", ok, err, true)
		wins := make([]bool, 8)
		errs := inParallel(len(wins), func(i int) error {
			var err error
			wins[i], err = s.UseTOTPStep(ctx, "usr_alice", 101)
			return err
		})
		n := 0
		for i, err := range errs {
			must(t, err)
			if wins[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d concurrent UseTOTPStep calls won, want 1", n, len(wins))
		}
	}},
	{"DeleteTOTP", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		wantErr(t, s.DeleteTOTP(ctx, "usr_alice"), apperr.KindNotFound, mfa.CodeNotEnrolled)
		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed")))
		must(t, s.DeleteTOTP(ctx, "usr_alice"))
		_, err := s.GetTOTP(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, mfa.CodeNotEnrolled)
		// A new enrolment starts from scratch.
		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed")))
	}},
	{"RecoveryCodesSingleUse", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		must(t, s.ReplaceRecoveryCodes(ctx, "usr_alice", []string{"h1", "h2", "h3"}, t0))
		must(t, s.ReplaceRecoveryCodes(ctx, "usr_bob", []string{"b1"}, t0))
		wantCount(t, s, "usr_alice", 3)

		ok, err := s.UseRecoveryCode(ctx, "usr_alice", "h1", t0)
		wantOK(t, "UseRecoveryCode", ok, err, true)
		ok, err = s.UseRecoveryCode(ctx, "usr_alice", "h1", t0)
		wantOK(t, "UseRecoveryCode again", ok, err, false)
		ok, err = s.UseRecoveryCode(ctx, "usr_alice", "b1", t0)
		wantOK(t, "UseRecoveryCode of another user's code", ok, err, false)
		ok, err = s.UseRecoveryCode(ctx, "usr_alice", "nope", t0)
		wantOK(t, "UseRecoveryCode of an unknown code", ok, err, false)
		wantCount(t, s, "usr_alice", 2)
		wantCount(t, s, "usr_bob", 1)

		// Replacing drops the old set, used or not.
		must(t, s.ReplaceRecoveryCodes(ctx, "usr_alice", []string{"h4", "h1"}, t0))
		wantCount(t, s, "usr_alice", 2)
		ok, err = s.UseRecoveryCode(ctx, "usr_alice", "h2", t0)
		wantOK(t, "UseRecoveryCode of a replaced code", ok, err, false)
		ok, err = s.UseRecoveryCode(ctx, "usr_alice", "h1", t0)
		wantOK(t, "UseRecoveryCode of a code issued again", ok, err, true)

		must(t, s.ReplaceRecoveryCodes(ctx, "usr_alice", nil, t0))
		wantCount(t, s, "usr_alice", 0)
		wantCount(t, s, "usr_bob", 1)
	}},
	{"RecoveryCodeConcurrently", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.ReplaceRecoveryCodes(ctx, "usr_alice", []string{"h1"}, t0))
		wins := make([]bool, 8)
		errs := inParallel(len(wins), func(i int) error {
			var err error
			wins[i], err = s.UseRecoveryCode(ctx, "usr_alice", "h1", t0)
			return err
		})
		n := 0
		for i, err := range errs {
			must(t, err)
			if wins[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d concurrent UseRecoveryCode calls won, want 1", n, len(wins))
		}
	}},
	{"RecoveryCodesForUnknownUser", func(t *testing.T, s *store.Store) {
		err := s.ReplaceRecoveryCodes(t.Context(), "usr_none", []string{"h1"}, t0)
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	}},
	{"DeletedWithTheUser", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.PutPendingTOTP(ctx, pendingTOTP("usr_alice", "sealed")))
		must(t, s.ReplaceRecoveryCodes(ctx, "usr_alice", []string{"h1"}, t0))
		must(t, s.DeleteUser(ctx, "usr_alice"))
		_, err := s.GetTOTP(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, mfa.CodeNotEnrolled)
		wantCount(t, s, "usr_alice", 0)
	}},
}

// wantCount fails t unless the user has n unused recovery codes.
func wantCount(t *testing.T, s *store.Store, userID string, n int) {
	t.Helper()
	got, err := s.CountRecoveryCodes(t.Context(), userID)
	must(t, err)
	if got != n {
		t.Fatalf("CountRecoveryCodes(%s) = %d, want %d", userID, got, n)
	}
}
