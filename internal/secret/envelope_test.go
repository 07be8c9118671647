package secret_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/secret"
)

func newKeyring(t *testing.T, previous ...[]byte) (*secret.Keyring, []byte) {
	t.Helper()
	k := secret.RandomBytes(secret.MasterKeySize)
	kr, err := secret.NewKeyring(k, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kr, k
}

func TestSealOpen(t *testing.T) {
	kr, _ := newKeyring(t)
	sealed, err := kr.Seal([]byte("private key"), "signing_key:k1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "private key") || !strings.HasPrefix(sealed, "gh1."+kr.KeyID()+".") {
		t.Fatalf("sealed form %q", sealed)
	}
	again, _ := kr.Seal([]byte("private key"), "signing_key:k1")
	if again == sealed {
		t.Fatal("two seals of one value must differ (fresh data key and nonce)")
	}
	pt, err := kr.Open(sealed, "signing_key:k1")
	if err != nil || string(pt) != "private key" {
		t.Fatalf("open = %q, %v", pt, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	kr, _ := newKeyring(t)
	other, _ := newKeyring(t)
	sealed, _ := kr.Seal([]byte("v"), "ad")
	parts := strings.Split(sealed, ".")
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)/2] ^= 1
		return string(b)
	}
	cases := map[string]struct {
		kr     *secret.Keyring
		sealed string
		ad     string
	}{
		"wrong associated data": {kr, sealed, "other"},
		"other master key":      {other, sealed, "ad"},
		"tampered ciphertext":   {kr, strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3])}, "."), "ad"},
		"tampered data key":     {kr, strings.Join([]string{parts[0], parts[1], flip(parts[2]), parts[3]}, "."), "ad"},
		"truncated":             {kr, parts[0] + "." + parts[1], "ad"},
		"garbage":               {kr, "not sealed", "ad"},
		"empty":                 {kr, "", "ad"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := c.kr.Open(c.sealed, c.ad); !errors.Is(err, secret.ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestRewrapUnderNewMasterKey(t *testing.T) {
	old, oldKey := newKeyring(t)
	sealed, _ := old.Seal([]byte("v"), "ad")
	next, _ := newKeyring(t, oldKey)
	if !next.NeedsRewrap(sealed) {
		t.Fatal("a value under the old key needs rewrapping")
	}
	rewrapped, err := next.Rewrap(sealed, "ad")
	if err != nil {
		t.Fatal(err)
	}
	if next.NeedsRewrap(rewrapped) {
		t.Fatal("rewrapped value still under the old key")
	}
	if _, err := old.Open(rewrapped, "ad"); err == nil {
		t.Fatal("the old key must not open a value rewrapped under the new one")
	}
	if pt, err := next.Open(rewrapped, "ad"); err != nil || string(pt) != "v" {
		t.Fatalf("open rewrapped = %q, %v", pt, err)
	}
}

func TestNewKeyringRejectsWrongSize(t *testing.T) {
	if _, err := secret.NewKeyring(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte master key must be refused")
	}
}

func TestParseMasterKey(t *testing.T) {
	k := secret.RandomBytes(32)
	if got, err := secret.ParseMasterKey(" " + secret.EncodeMasterKey(k) + "\n"); err != nil || string(got) != string(k) {
		t.Fatalf("round trip failed: %v", err)
	}
	for _, bad := range []string{"", "short", secret.EncodeMasterKey(make([]byte, 31)), "!!!!"} {
		if _, err := secret.ParseMasterKey(bad); err == nil {
			t.Errorf("ParseMasterKey(%q) accepted", bad)
		}
	}
}

func TestDevMasterKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, created, err := secret.LoadOrCreateDevMasterKey(dir)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, secret.DevMasterKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, created, err := secret.LoadOrCreateDevMasterKey(dir)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatal("the second call must load the same key")
	}
}

func TestValueRedacts(t *testing.T) {
	v := secret.NewValue("hunter2-hunter2")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "v", v)
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s", v, v, v, v), b.String()} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	if m, _ := v.MarshalText(); strings.Contains(string(m), "hunter2") {
		t.Fatal("secret leaked through MarshalText")
	}
	if v.Reveal() != "hunter2-hunter2" {
		t.Fatal("Reveal must return the secret")
	}
}

func TestTokensAndHash(t *testing.T) {
	a, b := secret.Token(), secret.Token()
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !strings.HasPrefix(secret.RandomID("usr"), "usr_") || len(secret.RandomID("usr")) != 36 {
		t.Fatal("RandomID shape")
	}
	x1, x2 := secret.Hash("x"), secret.Hash(string([]byte{'x'}))
	if x1 != x2 || x1 == secret.Hash("y") || len(x1) != 64 {
		t.Fatal("Hash")
	}
	if !secret.Equal("abc", "abc") || secret.Equal("abc", "abd") || secret.Equal("abc", "ab") {
		t.Fatal("Equal")
	}
}

func TestSealWithKey(t *testing.T) {
	key := secret.RandomBytes(32)
	ct, err := secret.SealWithKey(key, []byte("successor"), "ad")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := secret.OpenWithKey(key, ct, "ad"); err != nil || string(pt) != "successor" {
		t.Fatalf("open = %q %v", pt, err)
	}
	if _, err := secret.OpenWithKey(secret.RandomBytes(32), ct, "ad"); err == nil {
		t.Fatal("another key opened it")
	}
}
