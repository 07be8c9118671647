package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEveryAPIForbiddenIsEvidence: a 403 that a handler decides itself (an
// API key asking for a user's profile, sessions or second factor) is
// recorded as access.denied like the permission checks' (SPEC §15).
func TestEveryAPIForbiddenIsEvidence(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	r := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": "ops", "permissions": []string{"documents:read"}})
	want(t, r, http.StatusCreated)
	k := r.JSON(t)
	key, keyID := k["key"].(string), k["id"].(string)
	for _, route := range []string{"/api/v1/me", "/api/v1/me/sessions"} {
		wantProblem(t, s.api("GET", route, key, nil), http.StatusForbidden, "permission_denied")
	}
	var seen int
	for _, e := range s.audit(admin, "action=access.denied") {
		if a, _ := e["actor"].(map[string]any); a["type"] == "key" && a["id"] == keyID {
			seen++
			if e["outcome"] != "denied" || e["reason"] != "permission_denied" {
				t.Errorf("event %v", e)
			}
		}
	}
	// One per actor per interval: the second 403 is counted, not logged.
	if seen != 1 {
		t.Fatalf("access.denied events of the key: %d, want 1", seen)
	}
}

// TestRevokingTwiceIsAuditedOnce: revoking what is already revoked (an
// access token through RFC 7009, a session through the API) succeeds and
// changes nothing, so it writes no second event.
func TestRevokingTwiceIsAuditedOnce(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword, "roles": []string{"viewer"}})
	first := s.login("rita", ritaPassword)
	second := s.login("rita", ritaPassword)["access_token"].(string)
	at := first["access_token"].(string)
	for range 2 {
		want(t, s.form("/oauth2/revoke", "", url.Values{"token": {at}, "client_id": {"gatehouse"}}), http.StatusOK)
	}
	sid, _ := jwtClaims(t, at)["sid"].(string)
	for range 2 {
		want(t, s.api("DELETE", "/api/v1/me/sessions/"+sid, second, nil), http.StatusNoContent)
	}
	count := func(action string) int {
		n := 0
		for _, e := range s.audit(admin, "action="+action) {
			if e["outcome"] == "success" {
				n++
			}
		}
		return n
	}
	if n := count("token.revoked"); n != 1 {
		t.Errorf("token.revoked events: %d, want 1", n)
	}
	if n := count("session.revoked"); n != 1 {
		t.Errorf("session.revoked events: %d, want 1", n)
	}
}

// TestRefusedCredentialsAreEvidence: a refresh token, client secret or
// Bearer credential refused by the OAuth endpoints is recorded as
// access.denied with the error as its reason (SPEC §15), at most once per
// address per interval; a wrong password stays an auth.login failure.
func TestRefusedCredentialsAreEvidence(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "127.0.0.1/32"})
	admin := s.admin()
	r := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "svc", "type": "confidential",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"documents:read"}})
	want(t, r, http.StatusCreated)
	client := r.JSON(t)["client_id"].(string)
	from := func(ip, path string, v url.Values) response {
		req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(v.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		return s.send(req)
	}
	cases := []struct {
		ip, path string
		form     url.Values
		status   int
		reason   string // "" when no access.denied is expected
	}{
		{"203.0.113.1", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not a token"}}, 400, "invalid_grant"},
		{"203.0.113.2", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {"wrong"}}, 401, "invalid_client"},
		{"203.0.113.3", "/oauth2/introspect", url.Values{"token": {admin}, "client_id": {"gatehouse"}}, 401, "invalid_client"},
		{"203.0.113.4", "/oauth2/revoke", url.Values{"token": {admin}, "client_id": {client}, "client_secret": {"wrong"}}, 401, "invalid_client"},
		{"203.0.113.5", "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"not the password"}}, 400, ""},
	}
	for _, c := range cases {
		want(t, from(c.ip, c.path, c.form), c.status)
	}
	got := map[string]string{}
	for _, e := range s.audit(admin, "action=access.denied") {
		if a, _ := e["actor"].(map[string]any); a["type"] == "anonymous" {
			if ip, _ := a["id"].(string); ip != "" {
				got[ip], _ = e["reason"].(string)
			}
		}
	}
	for _, c := range cases {
		if got[c.ip] != c.reason {
			t.Errorf("%s %v from %s: access.denied reason %q, want %q", c.path, c.form.Get("grant_type"), c.ip, got[c.ip], c.reason)
		}
	}
}
