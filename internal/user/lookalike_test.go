package user_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/user"
)

func TestLookAlikeUsernames(t *testing.T) {
	cases := []struct {
		a, b    string
		collide bool
	}{
		{"admin", "ADMIN", true},
		{"admin", "ａｄｍｉｎ", true}, // full-width
		{"cocoa", "сосоа", true}, // all Cyrillic
		{"xoxo", "хохо", true},   // all Cyrillic
		{"ιοτα", "iota", true},   // all Greek
		{"rita", "rito", false},
		{"иван", "ivan", false},
	}
	for _, c := range cases {
		ka, kb := user.UsernameKey(c.a), user.UsernameKey(c.b)
		if ka == "" || kb == "" {
			t.Errorf("%q or %q refused", c.a, c.b)
			continue
		}
		if (ka == kb) != c.collide {
			t.Errorf("%q and %q: keys %q %q, collide=%v", c.a, c.b, ka, kb, ka == kb)
		}
	}
	for _, mixed := range []string{"аdmin", "rіta", "οcean", "payраl", "ωmega"} {
		if _, _, err := user.NormalizeUsername(mixed); err == nil {
			t.Errorf("mixed-script %q accepted", mixed)
		}
	}
	for _, ok := range []string{"田中taro", "山田たろう", "김민수", "josé"} {
		if _, _, err := user.NormalizeUsername(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}
