package user_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/user"
)

var usernameSeeds = []string{
	"admin", "Admin", "ADMIN", "ａｄｍｉｎ", "аdmin" /* Cyrillic а */, "admin\u200b", "ad\u00admin", "\u202enimda",
	"a\r\nb", "a\x00b", "a b", "a\tb", "\u00a0admin", "admin\u3000", "..", "../etc/passwd", "a/b", "a\\b", "rita@example.com",
	"ß", strings.Repeat("ß", 64), "İstanbul", "ﬁle", "\u212a" /* Kelvin */, "Å", "ǅ", "x\u0301", "½", "①", "٣", "\xff",
	strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("é", 10000), "", "_", "+-.@",
}

// FuzzNormalizeUsername: an accepted username has only letters, digits and
// . _ - @ +, 1 to 64 characters; normalizing its display form again gives
// the same display and key (idempotent); a refusal is a 422 on username.
func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range usernameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		display, key, err := user.NormalizeUsername(s)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Kind != apperr.KindInvalid || ae.Fields["username"] == "" || display != "" || key != "" {
				t.Fatalf("NormalizeUsername(%q) = %q, %q, %v", s, display, key, err)
			}
			if user.UsernameKey(s) != "" {
				t.Fatalf("UsernameKey(%q) is not empty for a refused name", s)
			}
			return
		}
		if n := utf8.RuneCountInString(display); n < 1 || n > user.MaxUsernameLen || key == "" || !utf8.ValidString(key) {
			t.Fatalf("NormalizeUsername(%q) = %q, %q", s, display, key)
		}
		for _, r := range display {
			if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) ||
				!(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@+", r)) {
				t.Fatalf("NormalizeUsername(%q) accepted %U in %q", s, r, display)
			}
		}
		d2, k2, err := user.NormalizeUsername(display)
		if err != nil || d2 != display || k2 != key {
			t.Fatalf("not idempotent: %q → %q/%q → %q/%q, %v", s, display, key, d2, k2, err)
		}
		if user.UsernameKey(s) != key {
			t.Fatalf("UsernameKey(%q) = %q, want %q", s, user.UsernameKey(s), key)
		}
	})
}

// TestUsernameKeys pins uniqueness across case and compatibility forms, and
// that look-alike scripts stay distinct users.
func TestUsernameKeys(t *testing.T) {
	same := [][]string{
		{"rita", "Rita", "RITA", "ｒｉｔａ", "ＲＩＴＡ"},
		{"kelvin", "\u212aelvin"},
		{"strasse", "STRASSE", "straße"},
	}
	for _, group := range same {
		want := user.UsernameKey(group[0])
		for _, n := range group {
			if got := user.UsernameKey(n); got == "" || got != want {
				t.Errorf("UsernameKey(%q) = %q, want %q like %q", n, got, want, group[0])
			}
		}
	}
	if user.UsernameKey("rita") == user.UsernameKey("rіta") /* Cyrillic і */ {
		t.Error("different scripts collapsed to one key")
	}
	for _, bad := range []string{"ri ta", "rita\u200b", "ri\u00adta", "\u202erita", "rita\n", "ri\x00ta"} {
		if user.UsernameKey(bad) != "" {
			t.Errorf("UsernameKey(%q) accepted", bad)
		}
	}
}
