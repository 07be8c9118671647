package oauth

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseScope: ParseScope returns every space-separated token of the
// parameter, sorted and unique, each of RFC 6749 §3.3 characters only, or
// a 400 invalid_scope error.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", " ", "openid", "openid profile", "documents:read  documents:read", "a\r\nb", "a\x00b",
		"a\tb", `a"b`, `a\b`, "..", "../../etc", "dоcuments:read", "ｄｏｃｕｍｅｎｔｓ:read", "\u00a0openid", "é",
		strings.Repeat("a ", 128), strings.Repeat("a ", 129), strings.Repeat("s", 4097), "*", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseScope(s)
		if err != nil {
			oe, ok := err.(*Error)
			if !ok || oe.Code != ErrInvalidScope || oe.Status != 400 || strings.ContainsAny(oe.Description, "\x00\r\n") {
				t.Fatalf("ParseScope(%q) error %#v", s, err)
			}
			return
		}
		if len(out) > 128 || !slices.IsSorted(out) || len(slices.Compact(slices.Clone(out))) != len(out) {
			t.Fatalf("ParseScope(%q) = %q: not at most 128 sorted unique scopes", s, out)
		}
		fields := strings.Split(s, " ")
		for _, x := range out {
			if x == "" || !slices.Contains(fields, x) {
				t.Fatalf("ParseScope(%q) made up %q", s, x)
			}
			for i := 0; i < len(x); i++ {
				if c := x[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
					t.Fatalf("ParseScope(%q) let %q through", s, c)
				}
			}
		}
		for _, fl := range fields {
			if fl != "" && !slices.Contains(out, fl) {
				t.Fatalf("ParseScope(%q) dropped %q", s, fl)
			}
		}
	})
}

// TestGrantScope pins SPEC §15: a token's power is the user's permissions ∩
// the client's allowed scopes ∩ the requested scopes; OIDC scopes pass.
func TestGrantScope(t *testing.T) {
	all := []string{"*"}
	perms := []string{"documents:read", "reviews:read", "users:manage"}
	for _, c := range []struct {
		name                     string
		requested, perms, client []string
		want                     []string
	}{
		{"nothing requested, built-in client", nil, perms, all, perms},
		{"nothing requested, limited client", nil, perms, []string{"documents:read", "keys:manage"}, []string{"documents:read"}},
		{"narrowed by request", []string{"documents:read"}, perms, all, []string{"documents:read"}},
		{"request beyond the user", []string{"keys:manage"}, perms, all, nil},
		{"request beyond the client", []string{"users:manage"}, perms, []string{"documents:read"}, nil},
		{"request mixes allowed and not", []string{"documents:read", "keys:manage"}, perms, all, []string{"documents:read"}},
		{"only OIDC scopes do not narrow", []string{"openid"}, perms, all, []string{"documents:read", "openid", "reviews:read", "users:manage"}},
		{"OIDC plus a permission", []string{"documents:read", "openid", "profile"}, perms, all, []string{"documents:read", "openid", "profile"}},
		{"a requested * cannot widen", []string{"*"}, perms, []string{"documents:read"}, []string{"documents:read"}},
		{"a client scope * is not a permission", nil, []string{"documents:read"}, all, []string{"documents:read"}},
		{"no permissions", nil, nil, all, nil},
		{"no permissions, openid", []string{"openid"}, nil, all, []string{"openid"}},
		{"no client scopes", []string{"documents:read"}, perms, nil, nil},
		{"unknown OIDC-looking scope is a permission", []string{"offline"}, perms, all, nil},
		{"duplicates collapse", []string{"openid", "openid"}, []string{"b:x", "a:x", "a:x"}, all, []string{"a:x", "b:x", "openid"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := grantScope(c.requested, c.perms, c.client)
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("grantScope(%q, %q, %q) = %q, want %q", c.requested, c.perms, c.client, got, c.want)
			}
			for _, g := range got {
				if g == "*" {
					t.Errorf("a token scope of * grants everything: %q", got)
				}
			}
		})
	}
}
