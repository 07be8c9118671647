package mfa_test

import (
	"bytes"
	"encoding/base32"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

const step = 30 * time.Second

func TestEnrollment(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		e, err := f.svc.Begin(ctx, alice, "alice")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
		if err != nil || len(raw) != 20 {
			t.Fatalf("Secret %q: %d bytes, %v; want 20 bytes of base32", e.Secret, len(raw), err)
		}
		u, err := url.Parse(e.URI)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Gatehouse:alice" || q.Get("secret") != e.Secret ||
			q.Get("issuer") != "Gatehouse" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
			t.Fatalf("URI = %s", e.URI)
		}
		img, err := png.Decode(bytes.NewReader(e.QRPNG))
		if err != nil {
			t.Fatalf("QRPNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Fatalf("QR code is %v", b)
		}

		// Pending: not enrolled, and its codes do not sign in.
		code := oath(t, e.Secret, t0)
		f.verify(t, code, false)
		if on, err := f.svc.Enrolled(ctx, alice); err != nil || on {
			t.Fatalf("Enrolled while pending = %v, %v", on, err)
		}

		recovery, err := f.svc.Confirm(ctx, alice, code)
		if err != nil {
			t.Fatal(err)
		}
		if len(recovery) != mfa.RecoveryCodeCount {
			t.Fatalf("Confirm returned %d recovery codes", len(recovery))
		}
		if on, err := f.svc.Enrolled(ctx, alice); err != nil || !on {
			t.Fatalf("Enrolled = %v, %v", on, err)
		}
		if u, err := f.st.GetUser(ctx, alice); err != nil || !u.TOTPEnabled {
			t.Fatalf("user TOTPEnabled after Confirm: %v, %v", u, err)
		}
		wantEnrollEvents(t, f, "enrolled")

		// The confirming code is used up; the next step's code works.
		f.verify(t, code, false)
		f.setTime(t0.Add(step))
		f.verify(t, oath(t, e.Secret, t0.Add(step)), true)
	})
}

func TestEnrollmentAtRealTime(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		mfa.SetClock(f.svc, time.Now)
		e, err := f.svc.Begin(t.Context(), alice, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Confirm(t.Context(), alice, oath(t, e.Secret, time.Time{})); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConfirmErrors(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		_, err := f.svc.Confirm(ctx, alice, "123456")
		wantErr(t, err, apperr.KindConflict, mfa.CodeNoPendingEnrollment)

		first, err := f.svc.Begin(ctx, alice, "alice")
		if err != nil {
			t.Fatal(err)
		}
		// Restarting replaces the secret: the first one's codes stop working.
		second, err := f.svc.Begin(ctx, alice, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if first.Secret == second.Secret {
			t.Fatal("Begin twice gave the same secret")
		}
		good := oath(t, second.Secret, t0)
		for _, bad := range []string{oath(t, first.Secret, t0), oath(t, second.Secret, t0.Add(-2*step)), "", "12345", "１２３４５６"} {
			if bad == good {
				continue // a one-in-a-million collision
			}
			_, err = f.svc.Confirm(ctx, alice, bad)
			wantErr(t, err, apperr.KindInvalid, mfa.CodeInvalidOTP)
		}
		if _, err := f.svc.Confirm(ctx, alice, good); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Confirm(ctx, alice, good)
		wantErr(t, err, apperr.KindConflict, mfa.CodeAlreadyEnrolled)
		_, err = f.svc.Begin(ctx, alice, "alice")
		wantErr(t, err, apperr.KindConflict, mfa.CodeAlreadyEnrolled)
		_, err = f.svc.Begin(ctx, "usr_none", "none")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	})
}

func TestVerifySkew(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret, _ := f.enroll(t)
		now := t0.Add(time.Hour + 10*time.Second) // inside a step, not at its start
		f.setTime(now)
		// In order of steps, so no acceptance makes a later case a replay.
		for _, tc := range []struct {
			steps int
			want  bool
		}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
			f.verify(t, oath(t, secret, now.Add(time.Duration(tc.steps)*step)), tc.want)
		}
	})
}

func TestVerifyReplay(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret, _ := f.enroll(t)
		now := t0.Add(time.Hour)
		f.setTime(now)
		current := oath(t, secret, now)
		f.verify(t, current, true)
		f.verify(t, current, false) // the same code again
		f.setTime(now.Add(step))
		f.verify(t, current, false) // still inside the window, still used
		next := oath(t, secret, now.Add(step))
		f.verify(t, next, true) // a later code after an earlier one

		// A code of a later step (clock ahead) locks out the earlier ones.
		f.setTime(now.Add(5 * step))
		f.verify(t, oath(t, secret, now.Add(6*step)), true)
		f.verify(t, oath(t, secret, now.Add(5*step)), false)
		f.verify(t, oath(t, secret, now.Add(4*step)), false)
	})
}

func TestVerifyConcurrentReplay(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret, _ := f.enroll(t)
		f.setTime(t0.Add(time.Hour))
		code := oath(t, secret, t0.Add(time.Hour))
		const n = 8
		wins := make(chan bool, n)
		errs := make(chan error, n)
		for range n {
			go func() {
				ok, err := f.svc.Verify(t.Context(), alice, code)
				wins <- ok
				errs <- err
			}()
		}
		won := 0
		for range n {
			if <-wins {
				won++
			}
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d concurrent Verify calls of one code succeeded, want 1", won, n)
		}
	})
}

func TestVerifyMalformed(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret, _ := f.enroll(t)
		now := t0.Add(time.Hour)
		f.setTime(now)
		good := oath(t, secret, now)
		fullwidth := strings.Map(func(r rune) rune { return r - '0' + '０' }, good)
		arabicIndic := strings.Map(func(r rune) rune { return r - '0' + '٠' }, good)
		persian := strings.Map(func(r rune) rune { return r - '0' + '۰' }, good)
		for _, code := range []string{"", good[:5], good + "0", "abcdef", good[:5] + "a", " " + good, good + " ",
			good[:3] + " " + good[3:], good + "\n", good[:5] + "\x00", "+" + good[:5], "-" + good[:5], "0x1234",
			fullwidth, arabicIndic, persian, "１２３４５６", "١٢٣٤٥٦", "12345６", strings.Repeat("1", 1<<16)} {
			before := f.gets.Load()
			f.verify(t, code, false)
			if f.gets.Load() != before {
				t.Fatalf("Verify(%q) read the store", code)
			}
		}
		f.verify(t, good, true) // none of them used the step up
	})
}

func TestVerifyWithoutEnrollment(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.verify(t, "123456", false)
		if on, err := f.svc.Enrolled(t.Context(), alice); err != nil || on {
			t.Fatalf("Enrolled = %v, %v", on, err)
		}
	})
}

func TestSecretEncryptedAtRest(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret, _ := f.enroll(t)
		row, err := f.st.GetTOTP(t.Context(), alice)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		for _, form := range []string{secret, strings.ToLower(secret), string(raw)} {
			if strings.Contains(row.SecretSealed, form) {
				t.Fatalf("the stored row holds the secret: %q", row.SecretSealed)
			}
		}
		if !strings.HasPrefix(row.SecretSealed, "gh1.") {
			t.Fatalf("SecretSealed = %q, want a keyring-sealed value", row.SecretSealed)
		}
		// The row is bound to its user: copied to bob, it does not open.
		if err := f.st.PutPendingTOTP(t.Context(), &mfa.TOTP{UserID: "usr_bob", SecretSealed: row.SecretSealed, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if ok, err := f.st.ConfirmTOTP(t.Context(), "usr_bob", row.SecretSealed, 1, t0); err != nil || !ok {
			t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
		}
		_, err = f.svc.Verify(t.Context(), "usr_bob", oath(t, secret, t0.Add(time.Hour)))
		wantErr(t, err, apperr.KindInternal, "")
	})
}

func TestRemove(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		wantErr(t, f.svc.Remove(ctx, alice), apperr.KindNotFound, mfa.CodeNotEnrolled)
		secret, recovery := f.enroll(t)
		if err := f.svc.Remove(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if on, err := f.svc.Enrolled(ctx, alice); err != nil || on {
			t.Fatalf("Enrolled after Remove = %v, %v", on, err)
		}
		if u, err := f.st.GetUser(ctx, alice); err != nil || u.TOTPEnabled {
			t.Fatalf("user TOTPEnabled after Remove: %v, %v", u, err)
		}
		f.setTime(t0.Add(time.Hour))
		f.verify(t, oath(t, secret, t0.Add(time.Hour)), false)
		if ok, err := f.svc.VerifyRecovery(ctx, alice, recovery[0]); err != nil || ok {
			t.Fatalf("VerifyRecovery after Remove = %v, %v", ok, err)
		}
		if n, err := f.svc.RecoveryCodesLeft(ctx, alice); err != nil || n != 0 {
			t.Fatalf("RecoveryCodesLeft after Remove = %d, %v", n, err)
		}
		wantEnrollEvents(t, f, "enrolled", "removed")
		wantErr(t, f.svc.Remove(ctx, alice), apperr.KindNotFound, mfa.CodeNotEnrolled)
		f.enroll(t) // enrolling again works
	})
}

// wantEnrollEvents fails t unless alice's auth.mfa.enroll events carry
// these changes, oldest first.
func wantEnrollEvents(t *testing.T, f *fixture, changes ...string) {
	t.Helper()
	events, err := f.st.ListAudit(t.Context(), audit.Query{Action: "auth.mfa.enroll", TargetID: alice, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(events) - 1; i >= 0; i-- {
		got = append(got, events[i].Metadata["change"].(string))
	}
	if strings.Join(got, ",") != strings.Join(changes, ",") {
		t.Fatalf("auth.mfa.enroll changes = %v, want %v", got, changes)
	}
}

// wantErr fails t unless err is an *apperr.Error of kind k and code (any
// code when code is "").
func wantErr(t *testing.T, err error, k apperr.Kind, code string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != k || (code != "" && e.Code != code) {
		t.Fatalf("err = %v, want %v %s", err, k, code)
	}
}
