package mfa_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// recoveryShape is four groups of four characters of Crockford's base32.
var recoveryShape = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)

// normalShape is the normalized form: 16 characters of Crockford's base32.
var normalShape = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{16}$`)

func TestRecoveryCodes(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		_, codes := f.enroll(t)
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryShape.MatchString(c) || seen[c] {
				t.Fatalf("recovery codes %q: malformed or repeated", codes)
			}
			seen[c] = true
		}
		use := func(code string, want bool) {
			t.Helper()
			ok, err := f.svc.VerifyRecovery(ctx, alice, code)
			if err != nil || ok != want {
				t.Fatalf("VerifyRecovery(%q) = %v, %v; want %v", code, ok, err, want)
			}
		}
		use(codes[0], true)
		use(codes[0], false) // single use
		// As a user may type it: lower case, spaces, no dashes.
		use(strings.ToLower(strings.ReplaceAll(codes[1], "-", " ")), true)
		use(strings.ReplaceAll(codes[2], "-", ""), true)
		use("", false)
		use("0000-0000-0000-0000", false)
		use(codes[3][:len(codes[3])-1], false)
		if n, err := f.svc.RecoveryCodesLeft(ctx, alice); err != nil || n != mfa.RecoveryCodeCount-3 {
			t.Fatalf("RecoveryCodesLeft = %d, %v", n, err)
		}
		// Another user cannot use alice's codes.
		if ok, err := f.svc.VerifyRecovery(ctx, "usr_bob", codes[3]); err != nil || ok {
			t.Fatalf("bob's VerifyRecovery of alice's code = %v, %v", ok, err)
		}

		fresh, err := f.svc.RegenerateRecovery(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(fresh) != mfa.RecoveryCodeCount {
			t.Fatalf("RegenerateRecovery returned %d codes", len(fresh))
		}
		use(codes[3], false) // the old set stopped working
		use(fresh[0], true)
		wantEnrollEvents(t, f, "enrolled", "recovery_codes_regenerated")
	})
}

func TestRegenerateRecoveryWithoutEnrollment(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		_, err := f.svc.RegenerateRecovery(t.Context(), alice)
		wantErr(t, err, apperr.KindNotFound, mfa.CodeNotEnrolled)
		if _, err := f.svc.Begin(t.Context(), alice, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.RegenerateRecovery(t.Context(), alice) // pending is not enrolled
		wantErr(t, err, apperr.KindNotFound, mfa.CodeNotEnrolled)
	})
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"display form", "7K3M-Q0ZD-X4AB-9TNC", "7K3MQ0ZDX4AB9TNC"},
		{"lower case and spaces", "7k3m q0zd x4ab 9tnc", "7K3MQ0ZDX4AB9TNC"},
		{"look-alikes", "7K3M-QOZD-X4AB-9TNC", "7K3MQ0ZDX4AB9TNC"},
		{"i and l are one", "iL00-0000-0000-0000", "1100000000000000"},
		{"tabs and stray dashes", "\t7K3M--Q0ZD-X4AB-9TNC ", "7K3MQ0ZDX4AB9TNC"},
		{"too short", "7K3M-Q0ZD-X4AB-9TN", ""},
		{"too long", "7K3M-Q0ZD-X4AB-9TNCC", ""},
		{"U is not in the alphabet", "UK3M-Q0ZD-X4AB-9TNC", ""},
		{"fullwidth", "７K3M-Q0ZD-X4AB-9TNC", ""},
		{"NUL", "7K3M-Q0ZD-X4AB-9TN\x00", ""},
		{"empty", "", ""},
		{"huge", strings.Repeat("-", 100) + "7K3MQ0ZDX4AB9TNC", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mfa.NormalizeRecoveryCode(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("NormalizeRecoveryCode(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"7K3M-Q0ZD-X4AB-9TNC", "iloo-0000-0000-0000", "７K3M", "\r\n", "\x00", "../..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := mfa.NormalizeRecoveryCode(in)
		if !ok {
			return
		}
		if !normalShape.MatchString(n) {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q", in, n)
		}
		if again, ok := mfa.NormalizeRecoveryCode(n); !ok || again != n {
			t.Fatalf("not idempotent: %q → %q → %q", in, n, again)
		}
	})
}
