package app_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestMeProfile: a user changes their own profile with PATCH /api/v1/me
// (SPEC §9 "me (profile …)"); a new email needs the current password (SPEC
// §15 re-authentication), the display name does not.
func TestMeProfile(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword, "email": "rita@example.com", "roles": []string{"viewer"}})
	s.createUser(admin, map[string]any{"username": "sam", "password": ritaPassword, "email": "sam@example.com"})
	rita := s.login("rita", ritaPassword)["access_token"].(string)

	r := s.api("PATCH", "/api/v1/me", rita, map[string]any{"display_name": "Rita R."})
	want(t, r, http.StatusOK)
	if u := r.JSON(t); u["display_name"] != "Rita R." || u["email"] != "rita@example.com" {
		t.Fatalf("after a display name change: %v", u)
	}
	p := wantProblem(t, s.api("PATCH", "/api/v1/me", rita, map[string]any{"email": "r@example.com"}), http.StatusUnprocessableEntity, "validation_failed")
	if fieldErr(p, "current_password") == "" {
		t.Errorf("no current_password error: %v", p)
	}
	p = wantProblem(t, s.api("PATCH", "/api/v1/me", rita, map[string]any{"email": "r@example.com", "current_password": "not it at all"}),
		http.StatusUnprocessableEntity, "wrong_password")
	if fieldErr(p, "current_password") == "" {
		t.Errorf("no current_password error: %v", p)
	}
	wantProblem(t, s.api("PATCH", "/api/v1/me", rita, map[string]any{"email": "SAM@example.com", "current_password": ritaPassword}),
		http.StatusConflict, "email_taken")
	wantProblem(t, s.api("PATCH", "/api/v1/me", rita, map[string]any{"username": "queen"}), http.StatusBadRequest, "malformed_json")
	r = s.api("PATCH", "/api/v1/me", rita, map[string]any{"email": "r@example.com", "current_password": ritaPassword})
	want(t, r, http.StatusOK)
	if u := s.api("GET", "/api/v1/me", rita, nil).JSON(t); u["email"] != "r@example.com" || u["display_name"] != "Rita R." {
		t.Fatalf("GET /me after the email change: %v", u)
	}
	// The same email again needs nothing.
	want(t, s.api("PATCH", "/api/v1/me", rita, map[string]any{"email": "r@example.com"}), http.StatusOK)

	// Audited: two changes by rita herself, one refused attempt.
	var ok, failed int
	for _, e := range s.audit(admin, "action=user.updated") {
		if actor, _ := e["actor"].(map[string]any); actor["type"] != "user" {
			t.Errorf("user.updated by %v", e["actor"])
		}
		switch e["outcome"] {
		case "success":
			ok++
		case "failure":
			failed++
		}
	}
	if ok < 2 || failed != 1 {
		t.Errorf("user.updated events: %d successes, %d failures, want ≥ 2 and 1", ok, failed)
	}

	// A machine credential has no profile.
	r = s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "svc", "type": "confidential",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"documents:read"}})
	want(t, r, http.StatusCreated)
	cl := r.JSON(t)
	tok := s.form("/oauth2/token", "", url.Values{"grant_type": {"client_credentials"},
		"client_id": {cl["client_id"].(string)}, "client_secret": {cl["client_secret"].(string)}}).JSON(t)["access_token"].(string)
	wantProblem(t, s.api("PATCH", "/api/v1/me", tok, map[string]any{"display_name": "x"}), http.StatusForbidden, "permission_denied")
}
