package app_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestMFATokenIsBoundToItsClient: an mfa_token obtained through one client
// is refused when another client presents it, and a password_change or
// enrolment token is no mfa_token.
func TestMFATokenIsBoundToItsClient(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword})
	rita := s.login("rita", ritaPassword)["access_token"].(string)
	secret := s.api("POST", "/api/v1/me/mfa/totp", rita, nil).JSON(t)["secret"].(string)
	used := map[string]bool{}
	want(t, s.api("POST", "/api/v1/me/mfa/totp/confirm", rita, map[string]string{"otp": freshCode(t, secret, used)}), http.StatusOK)

	app := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "mobile", "type": "public",
		"grant_types": []string{"password", "refresh_token"}}).JSON(t)
	r := s.form("/oauth2/token", "", url.Values{"grant_type": {"password"}, "username": {"rita"}, "password": {ritaPassword},
		"client_id": {app["client_id"].(string)}})
	want(t, r, http.StatusForbidden)
	mt := r.JSON(t)["mfa_token"].(string)
	// The built-in client presents the mobile app's token: refused before
	// the code is even checked, so the same code still works for the right client.
	code := freshCode(t, secret, used)
	want(t, mfaGrant(s, mt, "otp", code), http.StatusBadRequest)
	r = s.form("/oauth2/token", "", url.Values{"grant_type": {"urn:gatehouse:grant-type:mfa-otp"}, "mfa_token": {mt},
		"otp": {code}, "client_id": {app["client_id"].(string)}})
	want(t, r, http.StatusOK)
	// Garbage and empty tokens are plain invalid_grant / invalid_request.
	want(t, mfaGrant(s, "not-a-token", "otp", "123456"), http.StatusBadRequest)
	want(t, mfaGrant(s, "", "otp", "123456"), http.StatusBadRequest)
}
