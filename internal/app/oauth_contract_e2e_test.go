package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestIntrospectionCallers covers who may call introspection (Appendix A:
// a confidential client, or a Bearer token or API key holding
// tokens:introspect; anyone else gets 401) and the challenges of RFC 6750
// §3 and RFC 7662 §2.3 on the refusals.
func TestIntrospectionCallers(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword, "roles": []string{"reviewer"}})
	rita := s.login("rita", ritaPassword)["access_token"].(string)
	target := url.Values{"token": {rita}}

	// A public client (the built-in one, or any other) cannot introspect:
	// it has no secret to prove who it is.
	r := s.form("/oauth2/introspect", "", url.Values{"token": {rita}, "client_id": {"gatehouse"}})
	want(t, r, http.StatusUnauthorized)
	if e := r.JSON(t)["error"]; e != "invalid_client" || strings.Contains(string(r.Body), `"active"`) {
		t.Fatalf("public client introspection: %s", r.Body)
	}
	r = s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "spa", "type": "public",
		"grant_types": []string{"refresh_token"}, "redirect_uris": []string{"https://app.example/cb"}})
	want(t, r, http.StatusCreated)
	pub := r.JSON(t)["client_id"].(string)
	want(t, s.form("/oauth2/introspect", "", url.Values{"token": {rita}, "client_id": {pub}}), http.StatusUnauthorized)

	// A Bearer credential without tokens:introspect: 401 with a Bearer
	// challenge naming the missing scope.
	r = s.form("/oauth2/introspect", rita, target)
	want(t, r, http.StatusUnauthorized)
	ch := r.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="tokens:introspect"`) {
		t.Fatalf("challenge %q", ch)
	}
	if strings.Contains(string(r.Body), `"active"`) {
		t.Fatalf("refused introspection answered: %s", r.Body)
	}
	// An invalid Bearer credential: invalid_token, still a Bearer challenge.
	r = s.form("/oauth2/introspect", "garbage", target)
	want(t, r, http.StatusUnauthorized)
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Fatalf("challenge %q", ch)
	}
	// The admin's token holds tokens:introspect.
	if m := s.form("/oauth2/introspect", admin, target).JSON(t); m["active"] != true || m["sub"] == nil {
		t.Fatalf("admin introspection %v", m)
	}

	// Userinfo refusals challenge with Bearer, not Basic.
	for _, tok := range []string{"", "garbage"} {
		r := s.do("GET", "/oauth2/userinfo", tok, "", nil)
		want(t, r, http.StatusUnauthorized)
		if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") {
			t.Errorf("userinfo with %q: challenge %q", tok, ch)
		}
	}

	// RFC 7662 §2.1: a hint that does not fit is only a hint.
	r = s.api("POST", "/api/v1/keys", rita, map[string]any{"name": "ci", "permissions": []string{"documents:read"}})
	want(t, r, http.StatusCreated)
	key := r.JSON(t)["key"].(string)
	for _, hint := range []string{"", "refresh_token", "access_token"} {
		m := s.form("/oauth2/introspect", admin, url.Values{"token": {key}, "token_type_hint": {hint}}).JSON(t)
		if m["active"] != true || m["token_type"] != "api_key" {
			t.Errorf("API key with hint %q: %v", hint, m)
		}
	}
	refresh := s.login("rita", ritaPassword)["refresh_token"].(string)
	if m := s.form("/oauth2/introspect", admin, url.Values{"token": {refresh}, "token_type_hint": {"access_token"}}).JSON(t); m["active"] != true {
		t.Errorf("refresh token with hint access_token: %v", m)
	}
}

// TestAccessTokenClaimsAlwaysPresent: SPEC §5 lists scope, roles and groups
// among an access token's claims; a user in no group still gets "groups":
// [], and the token response always says what scope was granted.
func TestAccessTokenClaimsAlwaysPresent(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword, "roles": []string{"reviewer"}})
	// rita asks only for a scope she may not have: nothing is granted.
	r := s.form("/oauth2/token", "", url.Values{"grant_type": {"password"}, "username": {"rita"}, "password": {ritaPassword},
		"scope": {"users:manage"}, "resource": {s.URL, s.URL}})
	want(t, r, http.StatusOK)
	var resp map[string]any
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		t.Fatal(err)
	}
	if sc, ok := resp["scope"]; !ok || sc != "" {
		t.Fatalf("token response scope %v (present %v), want \"\"", sc, ok)
	}
	c := jwtClaims(t, resp["access_token"].(string))
	for _, k := range []string{"scope", "roles", "groups"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing: %v", k, c)
		}
	}
	if g, ok := c["groups"].([]any); !ok || len(g) != 0 {
		t.Errorf("groups %v, want []", c["groups"])
	}
	if aud, ok := c["aud"].([]any); ok && len(aud) != 1 {
		t.Errorf("a repeated resource repeats the audience: %v", c["aud"])
	}

	// With GATEHOUSE_TOKEN_ROLE_CLAIMS=false, neither claim is there.
	off := startServer(t, "sqlite", map[string]string{"GATEHOUSE_TOKEN_ROLE_CLAIMS": "false"})
	c = jwtClaims(t, off.login("admin", adminPassword)["access_token"].(string))
	if _, ok := c["roles"]; ok {
		t.Errorf("roles claim with role claims off: %v", c)
	}
	if _, ok := c["groups"]; ok {
		t.Errorf("groups claim with role claims off: %v", c)
	}
}

// TestDiscoveryFollowsConfig: the discovery document advertises the grant
// types and signing algorithms this server accepts, not every one it could.
func TestDiscoveryFollowsConfig(t *testing.T) {
	doc := func(s *testServer) map[string]any {
		r := s.do("GET", "/.well-known/openid-configuration", "", "", nil)
		want(t, r, http.StatusOK)
		return r.JSON(t)
	}
	d := doc(startServer(t, "sqlite", nil))
	if g := strSlice(d["grant_types_supported"]); !slices.Contains(g, "password") || !slices.Contains(g, "refresh_token") {
		t.Errorf("default grant types %v", g)
	}
	if a := strSlice(d["id_token_signing_alg_values_supported"]); !slices.Equal(a, []string{"ES256"}) {
		t.Errorf("default algorithms %v, want [ES256]", a)
	}
	d = doc(startServer(t, "sqlite", map[string]string{"GATEHOUSE_PASSWORD_GRANT": "false", "GATEHOUSE_SIGNING_ALG": "RS256"}))
	if g := strSlice(d["grant_types_supported"]); slices.Contains(g, "password") || !slices.Contains(g, "client_credentials") {
		t.Errorf("grant types with the password grant off: %v", g)
	}
	if a := strSlice(d["id_token_signing_alg_values_supported"]); !slices.Equal(a, []string{"RS256"}) {
		t.Errorf("algorithms with RS256 chosen: %v", a)
	}
}

// TestTokenEndpointBodyTooLarge: a form over the body limit is a 413 in the
// RFC 6749 error shape, not a 400.
func TestTokenEndpointBodyTooLarge(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	r := s.form("/oauth2/token", "", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {strings.Repeat("x", 70<<10)}})
	want(t, r, http.StatusRequestEntityTooLarge)
	if e := r.JSON(t)["error"]; e != "invalid_request" {
		t.Fatalf("error %v", e)
	}
}
