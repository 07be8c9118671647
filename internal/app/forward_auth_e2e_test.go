package app_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestForwardAuth covers GET /api/v1/forward-auth (SPEC §12): a Bearer JWT
// or API key, ?role= and ?permission=, 200 with the X-Gatehouse-* headers,
// else 401 or 403.
func TestForwardAuth(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_RATE_LIMIT_VERIFY_FAILURES_PER_IP": "0"})
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "vera", "password": ritaPassword, "roles": []string{"viewer"}})
	vera := s.login("vera", ritaPassword)
	at := vera["access_token"].(string)
	key := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": "proxy", "permissions": []string{"documents:read"}}).JSON(t)

	fa := func(token, query string) response {
		return s.do("GET", "/api/v1/forward-auth"+query, token, "", nil)
	}
	if r := fa("", ""); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credential: %d %v", r.Status, r.Header)
	}
	r := fa(at, "?permission=documents:read&role=viewer")
	want(t, r, http.StatusOK)
	if r.Header.Get("X-Gatehouse-User") == "" || r.Header.Get("X-Gatehouse-Roles") != "viewer" || r.Header.Get("X-Gatehouse-Key") != "" {
		t.Fatalf("headers %v", r.Header)
	}
	want(t, fa(at, "?role=reviewer"), http.StatusForbidden)
	want(t, fa(at, "?permission=reviews:approve"), http.StatusForbidden)
	// Admin inherits every role below it.
	want(t, fa(admin, "?role=reviewer&role=lead_reviewer"), http.StatusOK)
	// API keys.
	r = fa(key["key"].(string), "?permission=documents:read")
	want(t, r, http.StatusOK)
	if r.Header.Get("X-Gatehouse-Key") != key["id"] {
		t.Fatalf("X-Gatehouse-Key %q", r.Header.Get("X-Gatehouse-Key"))
	}
	want(t, fa(key["key"].(string), "?permission=users:manage"), http.StatusForbidden)
	want(t, fa("gk_"+"0000000000000000000000000000000000000000000000000", ""), http.StatusUnauthorized)
	// A revoked token is refused at once.
	want(t, s.form("/oauth2/revoke", "", url.Values{"token": {at}, "client_id": {"gatehouse"}}), http.StatusOK)
	want(t, fa(at, ""), http.StatusUnauthorized)
}
