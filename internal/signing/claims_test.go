package signing_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/signing"
)

func TestClaimsValidate(t *testing.T) {
	const iss = "https://id.example.com"
	now := time.Unix(1_700_000_000, 500_000_000) // half a second past a whole second
	n := now.Unix()
	leeway := 30 * time.Second
	ok := signing.Claims{Issuer: iss, Audience: signing.Audience{"api"}, Expiry: n + 60, IssuedAt: n}
	mod := func(f func(*signing.Claims)) signing.Claims {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		claims   signing.Claims
		audience string
		leeway   time.Duration
		want     error
	}{
		{"valid", ok, "api", leeway, nil},
		{"no audience wanted", ok, "", leeway, nil},
		{"wrong issuer", mod(func(c *signing.Claims) { c.Issuer = "https://evil.example.com" }), "api", leeway, signing.ErrIssuer},
		{"issuer differs by a slash", mod(func(c *signing.Claims) { c.Issuer = iss + "/" }), "api", leeway, signing.ErrIssuer},
		{"empty issuer", mod(func(c *signing.Claims) { c.Issuer = "" }), "api", leeway, signing.ErrIssuer},
		{"audience in array", mod(func(c *signing.Claims) { c.Audience = signing.Audience{"web", "api"} }), "api", leeway, nil},
		{"audience missing from array", mod(func(c *signing.Claims) { c.Audience = signing.Audience{"web", "admin"} }), "api", leeway, signing.ErrAudience},
		{"audience is case-sensitive", ok, "API", leeway, signing.ErrAudience},
		{"no aud claim", mod(func(c *signing.Claims) { c.Audience = nil }), "api", leeway, signing.ErrAudience},
		{"no aud claim, none wanted", mod(func(c *signing.Claims) { c.Audience = nil }), "", leeway, nil},
		{"issuer checked before audience", mod(func(c *signing.Claims) { c.Issuer = "x"; c.Audience = nil }), "api", leeway, signing.ErrIssuer},
		{"exp missing", mod(func(c *signing.Claims) { c.Expiry = 0 }), "api", leeway, signing.ErrExpired},
		{"exp in the past beyond leeway", mod(func(c *signing.Claims) { c.Expiry = n - 31 }), "api", leeway, signing.ErrExpired},
		{"exp exactly at the end of leeway", mod(func(c *signing.Claims) { c.Expiry = n - 30 }), "api", leeway, signing.ErrExpired},
		{"exp within leeway", mod(func(c *signing.Claims) { c.Expiry = n - 29 }), "api", leeway, nil},
		{"exp now, no leeway", mod(func(c *signing.Claims) { c.Expiry = n }), "api", 0, signing.ErrExpired},
		{"exp next second, no leeway", mod(func(c *signing.Claims) { c.Expiry = n + 1 }), "api", 0, nil},
		{"negative leeway counts as none", mod(func(c *signing.Claims) { c.Expiry = n }), "api", -time.Hour, signing.ErrExpired},
		{"exp far future does not wrap", mod(func(c *signing.Claims) { c.Expiry = math.MaxInt64 }), "api", leeway, nil},
		{"exp negative", mod(func(c *signing.Claims) { c.Expiry = -1 }), "api", leeway, signing.ErrExpired},
		{"nbf now", mod(func(c *signing.Claims) { c.NotBefore = n }), "api", 0, nil},
		{"nbf within leeway", mod(func(c *signing.Claims) { c.NotBefore = n + 30 }), "api", leeway, nil},
		{"nbf beyond leeway", mod(func(c *signing.Claims) { c.NotBefore = n + 31 }), "api", leeway, signing.ErrNotYetValid},
		{"nbf next second, no leeway", mod(func(c *signing.Claims) { c.NotBefore = n + 1 }), "api", 0, signing.ErrNotYetValid},
		{"iat within leeway", mod(func(c *signing.Claims) { c.IssuedAt = n + 30 }), "api", leeway, nil},
		{"iat beyond leeway", mod(func(c *signing.Claims) { c.IssuedAt = n + 31 }), "api", leeway, signing.ErrNotYetValid},
		{"iat missing", mod(func(c *signing.Claims) { c.IssuedAt = 0 }), "api", leeway, nil},
		{"expiry checked before nbf", mod(func(c *signing.Claims) { c.Expiry = n - 100; c.NotBefore = n + 100 }), "api", 0, signing.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.claims.Validate(iss, tt.audience, now, tt.leeway)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAudienceJSON(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     signing.Audience
		wantJSON string // re-encoded
	}{
		{"string", `"api"`, signing.Audience{"api"}, `"api"`},
		{"array of one", `["api"]`, signing.Audience{"api"}, `"api"`},
		{"array", `["api","web"]`, signing.Audience{"api", "web"}, `["api","web"]`},
		{"empty array", `[]`, signing.Audience{}, `[]`},
		{"null", `null`, nil, `[]`},
		{"empty string", `""`, signing.Audience{""}, `""`},
		{"escapes", `"a\u0000\r\nb"`, signing.Audience{"a\x00\r\nb"}, `"a\u0000\r\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c signing.Claims
			if err := json.Unmarshal([]byte(`{"aud":`+tt.in+`}`), &c); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.Audience); diff != "" {
				t.Errorf("Audience (-want +got):\n%s", diff)
			}
			b, err := json.Marshal(c.Audience)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("Marshal = %s, want %s", b, tt.wantJSON)
			}
		})
	}
	for _, bad := range []string{`1`, `{"a":"b"}`, `["a",1]`, `[["a"]]`, `true`, `"unterminated`} {
		var c signing.Claims
		if err := json.Unmarshal([]byte(`{"aud":`+bad+`}`), &c); err == nil {
			t.Errorf("aud %s: Unmarshal = %v, want an error", bad, c.Audience)
		}
	}
}

func TestClaimsJSONShape(t *testing.T) {
	c := signing.Claims{Issuer: "i", Subject: "s", Audience: signing.Audience{"a"}, Expiry: 2, IssuedAt: 1}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}
