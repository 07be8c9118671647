package mfa_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/store"
)

// FuzzVerifyCode feeds attacker-chosen codes to Verify of an enrolled user:
// it must never fail, and must accept nothing but one of the codes of the
// steps around now.
func FuzzVerifyCode(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(f.TempDir(), store.SQLiteFile)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	fx := newFixture(f, st)
	e, err := fx.svc.Begin(ctx, alice, "alice")
	if err != nil {
		f.Fatal(err)
	}
	gen := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(e.Secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			f.Fatal(err)
		}
		return c
	}
	if _, err := fx.svc.Confirm(ctx, alice, gen(t0)); err != nil {
		f.Fatal(err)
	}
	now := t0.Add(time.Hour)
	fx.setTime(now)
	valid := map[string]bool{}
	for d := -1; d <= 1; d++ {
		c := gen(now.Add(time.Duration(d) * step))
		valid[c] = true
		f.Add(c)
		f.Add(" " + c)
		f.Add(c[:3] + " " + c[3:])
		f.Add(strings.Map(func(r rune) rune { return r - '0' + '０' }, c))
		f.Add(strings.Map(func(r rune) rune { return r - '0' + '٠' }, c))
	}
	for _, s := range []string{"", "000000", "12345", "1234567", "12345\x00", "\r\n12345", "-12345", "+12345", "1e5000", "../../"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		ok, err := fx.svc.Verify(ctx, alice, code)
		if err != nil {
			t.Fatalf("Verify(%q): %v", code, err)
		}
		if ok && !valid[code] {
			t.Fatalf("Verify(%q) = true; only %v may be", code, valid)
		}
	})
}
