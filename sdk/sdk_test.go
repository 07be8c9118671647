package sdk_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/sdk"
)

func newVerifier(t testing.TB, cfg sdk.Config) *sdk.Verifier {
	t.Helper()
	v, err := sdk.NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serve runs h on a request with the given Bearer credential.
func serve(h http.Handler, credential string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/doc", nil)
	if credential != "" {
		r.Header.Set("Authorization", "Bearer "+credential)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func wantRefusal(t *testing.T, w *httptest.ResponseRecorder, status int, errCode string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	h := w.Header().Get("WWW-Authenticate")
	if !strings.HasPrefix(h, "Bearer realm=") {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge with a realm", h)
	}
	if errCode == "" && strings.Contains(h, "error=") || errCode != "" && !strings.Contains(h, `error="`+errCode+`"`) {
		t.Fatalf("WWW-Authenticate = %q, want error %q", h, errCode)
	}
}

// header returns the decoded JOSE header of a compact token.
func header(t testing.TB, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// payload returns the unverified claims of a compact token.
func payload(t testing.TB, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sign makes a compact JWS of claims with key under alg, with typ at+jwt and kid.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMiddlewareWithRealGatehouse(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, sdk.Config{Issuer: f.URL})

	var got *sdk.Principal
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = sdk.PrincipalFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})

	t.Run("valid token and PrincipalFrom", func(t *testing.T) {
		w := serve(v.Authenticate(ok), f.viewerToken)
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		want := payload(t, f.viewerToken)["sub"]
		if got == nil || got.Subject != want || got.Claims == nil || got.KeyID != "" {
			t.Fatalf("principal = %+v, want subject %v with claims", got, want)
		}
		if !contains(got.Roles, "viewer") || !contains(got.Permissions, "documents:read") {
			t.Fatalf("principal roles %v permissions %v, want viewer and documents:read", got.Roles, got.Permissions)
		}
	})
	t.Run("no credential", func(t *testing.T) {
		wantRefusal(t, serve(v.Authenticate(ok), ""), http.StatusUnauthorized, "")
	})
	t.Run("garbage credential", func(t *testing.T) {
		wantRefusal(t, serve(v.Authenticate(ok), "hello"), http.StatusUnauthorized, "invalid_token")
	})

	reviewer := v.Authenticate(sdk.RequireRole("reviewer")(ok))
	t.Run("RequireRole refuses a viewer", func(t *testing.T) {
		wantRefusal(t, serve(reviewer, f.viewerToken), http.StatusForbidden, "insufficient_scope")
	})
	t.Run("RequireRole accepts an admin through inherited roles", func(t *testing.T) {
		if w := serve(reviewer, f.adminToken); w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
	t.Run("RequireRole refuses an API key", func(t *testing.T) {
		wantRefusal(t, serve(reviewer, f.viewerKey), http.StatusForbidden, "insufficient_scope")
	})
	t.Run("RequireRole without Authenticate is 401", func(t *testing.T) {
		if w := serve(sdk.RequireRole("viewer")(ok), f.viewerToken); w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", w.Code)
		}
	})

	read := v.Authenticate(sdk.RequirePermission("documents:read")(ok))
	manage := v.Authenticate(sdk.RequirePermission("users:manage")(ok))
	t.Run("RequirePermission with a JWT", func(t *testing.T) {
		if w := serve(read, f.viewerToken); w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		wantRefusal(t, serve(manage, f.viewerToken), http.StatusForbidden, "insufficient_scope")
		if w := serve(manage, f.adminToken); w.Code != http.StatusNoContent {
			t.Fatalf("admin: status %d: %s", w.Code, w.Body)
		}
	})
	t.Run("RequirePermission with an API key", func(t *testing.T) {
		got = nil
		if w := serve(read, f.viewerKey); w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if got == nil || got.KeyID == "" || got.Subject != payload(t, f.viewerToken)["sub"] || got.Claims != nil {
			t.Fatalf("principal = %+v, want the key and its owner", got)
		}
		wantRefusal(t, serve(manage, f.viewerKey), http.StatusForbidden, "insufficient_scope")
	})
	t.Run("RequireScope", func(t *testing.T) {
		h := v.Authenticate(sdk.RequireScope("reviews:read")(ok))
		if w := serve(h, f.viewerToken); w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		w := serve(v.Authenticate(sdk.RequireScope("reviews:write")(ok)), f.viewerToken)
		wantRefusal(t, w, http.StatusForbidden, "insufficient_scope")
		if h := w.Header().Get("WWW-Authenticate"); !strings.Contains(h, `scope="reviews:write"`) {
			t.Fatalf("WWW-Authenticate = %q, want the missing scope", h)
		}
	})
	t.Run("unknown or revoked API key", func(t *testing.T) {
		bad := f.viewerKey[:len(f.viewerKey)-1] + "0"
		if bad == f.viewerKey {
			bad = f.viewerKey[:len(f.viewerKey)-1] + "1"
		}
		wantRefusal(t, serve(read, bad), http.StatusUnauthorized, "invalid_token")
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRejectedTokens(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, sdk.Config{Issuer: f.URL})
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	good := f.viewerToken
	kid, _ := header(t, good)["kid"].(string)
	claims := payload(t, good)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	parts := strings.Split(good, ".")

	cases := []struct {
		name, token string
		want        error
	}{
		{"forged signature", sign(t, jose.ES256, other, kid, claims), sdk.ErrSignature},
		{"alg none", enc(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".", sdk.ErrAlgorithm},
		{"HS256", sign(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), kid, claims), sdk.ErrAlgorithm},
		{"wrong typ", enc(map[string]any{"alg": header(t, good)["alg"], "typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], sdk.ErrType},
		{"tampered payload", parts[0] + "." + enc(map[string]any{"sub": "someone-else", "iss": claims["iss"], "aud": claims["aud"], "exp": claims["exp"]}) + "." + parts[2], sdk.ErrSignature},
		{"too large", parts[0] + "." + strings.Repeat("A", 8<<10) + "." + parts[2], sdk.ErrTokenTooLarge},
		{"unknown kid", sign(t, jose.ES256, other, "forged-kid", claims), sdk.ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyAccessToken(t.Context(), tc.token)
			if !errors.Is(err, tc.want) || !errors.Is(err, sdk.ErrInvalidToken) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			wantRefusal(t, serve(h, tc.token), http.StatusUnauthorized, "invalid_token")
		})
	}

	t.Run("expired", func(t *testing.T) {
		ve := newVerifier(t, sdk.Config{Issuer: f.URL})
		exp := time.Unix(int64(claims["exp"].(float64)), 0)
		sdk.SetNow(ve, func() time.Time { return exp.Add(31 * time.Second) })
		if _, err := ve.VerifyAccessToken(t.Context(), good); !errors.Is(err, sdk.ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", err)
		}
		wantRefusal(t, serve(ve.Authenticate(http.NotFoundHandler()), good), http.StatusUnauthorized, "invalid_token")
		sdk.SetNow(ve, func() time.Time { return exp.Add(29 * time.Second) }) // within the leeway
		if _, err := ve.VerifyAccessToken(t.Context(), good); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
	})
	t.Run("issued in the future", func(t *testing.T) {
		ve := newVerifier(t, sdk.Config{Issuer: f.URL})
		iat := time.Unix(int64(claims["iat"].(float64)), 0)
		sdk.SetNow(ve, func() time.Time { return iat.Add(-time.Minute) })
		if _, err := ve.VerifyAccessToken(t.Context(), good); !errors.Is(err, sdk.ErrNotYetValid) {
			t.Fatalf("err = %v, want ErrNotYetValid", err)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		va := newVerifier(t, sdk.Config{Issuer: f.URL, Audience: "https://other.example"})
		if _, err := va.VerifyAccessToken(t.Context(), good); !errors.Is(err, sdk.ErrAudience) {
			t.Fatalf("err = %v, want ErrAudience", err)
		}
		wantRefusal(t, serve(va.Authenticate(http.NotFoundHandler()), good), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("algorithm not in the allow-list", func(t *testing.T) {
		vr := newVerifier(t, sdk.Config{Issuer: f.URL, Algorithms: []string{"EdDSA"}})
		if _, err := vr.VerifyAccessToken(t.Context(), good); !errors.Is(err, sdk.ErrAlgorithm) {
			t.Fatalf("err = %v, want ErrAlgorithm", err)
		}
	})
	t.Run("config refuses none and HMAC", func(t *testing.T) {
		for _, alg := range []string{"none", "HS256"} {
			if _, err := sdk.NewVerifier(t.Context(), sdk.Config{Issuer: f.URL, Algorithms: []string{alg}}); err == nil {
				t.Fatalf("NewVerifier accepted %s", alg)
			}
		}
	})
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	g := startGatehouse(t)
	c := newCounter()
	v := newVerifier(t, sdk.Config{Issuer: g.URL, HTTPClient: &http.Client{Transport: c}})
	token := g.Login("admin", adminPassword)
	const jwks = "/.well-known/jwks.json"
	if n := c.count(jwks); n != 1 {
		t.Fatalf("NewVerifier fetched the JWKS %d times, want 1", n)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	claims := payload(t, token)
	now := time.Now()
	sdk.SetNow(v, func() time.Time { return now })
	for i := range 50 {
		forged := sign(t, jose.ES256, other, "forged-"+string(rune('a'+i%26)), claims)
		if _, err := v.VerifyAccessToken(t.Context(), forged); !errors.Is(err, sdk.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	}
	if n := c.count(jwks); n != 2 {
		t.Fatalf("50 forged kids caused %d JWKS fetches in total, want 2 (one refetch per 10 s)", n-0)
	}
	// The real token still verifies from the cache, without a fetch.
	if _, err := v.VerifyAccessToken(t.Context(), token); err != nil {
		t.Fatal(err)
	}
	sdk.SetNow(v, func() time.Time { return now.Add(10 * time.Second) })
	for range 5 {
		_, _ = v.VerifyAccessToken(t.Context(), sign(t, jose.ES256, other, "forged-later", claims))
	}
	if n := c.count(jwks); n != 3 {
		t.Fatalf("after 10 s: %d JWKS fetches in total, want 3", n)
	}
}

func TestAPIKeyCache(t *testing.T) {
	f := newFixture(t)
	const verify = "/api/v1/keys/verify"
	t.Run("positive answers are cached", func(t *testing.T) {
		c := newCounter()
		v := newVerifier(t, sdk.Config{Issuer: f.URL, HTTPClient: &http.Client{Transport: c}, KeyCacheTTL: 5 * time.Second})
		for range 3 {
			r, err := v.VerifyAPIKey(t.Context(), f.viewerKey, "documents:read")
			if err != nil || !r.Valid || r.KeyID == "" || !contains(r.Permissions, "documents:read") {
				t.Fatalf("VerifyAPIKey = %+v, %v", r, err)
			}
		}
		if n := c.count(verify); n != 1 {
			t.Fatalf("%d verify requests, want 1", n)
		}
		r, err := v.VerifyAPIKey(t.Context(), f.viewerKey, "users:manage") // not in the cached answer
		if err != nil || r.Valid || r.Code != "INSUFFICIENT_PERMISSIONS" {
			t.Fatalf("VerifyAPIKey(users:manage) = %+v, %v", r, err)
		}
		if n := c.count(verify); n != 2 {
			t.Fatalf("%d verify requests, want 2", n)
		}
		sdk.SetNow(v, func() time.Time { return time.Now().Add(6 * time.Second) })
		if _, err := v.VerifyAPIKey(t.Context(), f.viewerKey); err != nil {
			t.Fatal(err)
		}
		if n := c.count(verify); n != 3 {
			t.Fatalf("after the TTL: %d verify requests, want 3", n)
		}
	})
	t.Run("no cache by default, negative answers never cached", func(t *testing.T) {
		c := newCounter()
		v := newVerifier(t, sdk.Config{Issuer: f.URL, HTTPClient: &http.Client{Transport: c}})
		for range 2 {
			if r, err := v.VerifyAPIKey(t.Context(), f.viewerKey); err != nil || !r.Valid {
				t.Fatalf("VerifyAPIKey = %+v, %v", r, err)
			}
		}
		vc := newVerifier(t, sdk.Config{Issuer: f.URL, HTTPClient: &http.Client{Transport: c}, KeyCacheTTL: time.Minute})
		for range 2 {
			if r, err := vc.VerifyAPIKey(t.Context(), "gk_"+strings.Repeat("0", 49)); err != nil || r.Valid || r.Code == "" {
				t.Fatalf("VerifyAPIKey(bad) = %+v, %v", r, err)
			}
		}
		if n := c.count(verify); n != 4 {
			t.Fatalf("%d verify requests, want 4", n)
		}
	})
}
