package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func (s *testServer) verifyKey(key string, perms ...string) map[string]any {
	s.t.Helper()
	body := map[string]any{"key": key}
	if perms != nil {
		body["permissions"] = perms
	}
	r := s.api("POST", "/api/v1/keys/verify", "", body)
	want(s.t, r, http.StatusOK)
	return r.JSON(s.t)
}

var keyFormat = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)?_[0-9A-Za-z]{49}$`)

// TestAPIKeys covers SPEC §8 end to end: creation (shown once, permissions
// bounded by the owner's), verification codes, Bearer use on the API,
// introspection, rotation with grace, revocation, suspension and demotion of
// the owner, rate limits, quotas and usage.
func TestAPIKeys(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, map[string]string{"GATEHOUSE_RATE_LIMIT_VERIFY_FAILURES_PER_IP": "0"})
			admin := s.admin()
			u := s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword, "roles": []string{"reviewer"}})
			rita := s.login("rita", ritaPassword)["access_token"].(string)

			r := s.api("POST", "/api/v1/keys", rita, map[string]any{"name": "ci", "permissions": []string{"documents:read", "reviews:approve"}})
			want(t, r, http.StatusCreated)
			k := r.JSON(t)
			raw := k["key"].(string)
			if !keyFormat.MatchString(raw) || !strings.HasPrefix(raw, "gk_") || k["owner_id"] != u["id"] || k["status"] != "active" {
				t.Fatalf("created key %v", k)
			}
			if !strings.HasPrefix(k["hint"].(string), "gk_") {
				t.Fatalf("hint %v", k["hint"])
			}
			id := k["id"].(string)
			if g := s.api("GET", "/api/v1/keys/"+id, rita, nil); g.Status != http.StatusOK || strings.Contains(string(g.Body), raw) {
				t.Fatalf("GET must not return the secret: %s", g.Body)
			}
			// Beyond the owner's permissions: refused.
			r = s.api("POST", "/api/v1/keys", rita, map[string]any{"name": "x", "permissions": []string{"users:manage"}})
			want(t, r, http.StatusUnprocessableEntity)

			v := s.verifyKey(raw, "documents:read")
			if v["valid"] != true || v["key_id"] != id || v["owner_id"] != u["id"] {
				t.Fatalf("verify %v", v)
			}
			cases := map[string]string{
				raw[:len(raw)-1] + flip(raw[len(raw)-1]): "MALFORMED",
				"gk_short":                               "MALFORMED",
				strings.Replace(raw, "gk_", "xx_", 1):    "MALFORMED",
			}
			for key, code := range cases {
				if v := s.verifyKey(key); v["valid"] != false || v["code"] != code {
					t.Errorf("verify %q = %v, want %s", key, v, code)
				}
			}
			if v := s.verifyKey(raw, "reviews:assign"); v["code"] != "INSUFFICIENT_PERMISSIONS" {
				t.Errorf("verify beyond the key: %v", v)
			}

			// The key is a Bearer credential on the API, bounded by its permissions.
			want(t, s.api("GET", "/api/v1/roles", raw, nil), http.StatusOK)
			wantProblem(t, s.api("GET", "/api/v1/users", raw, nil), http.StatusForbidden, "permission_denied")
			// Introspection knows API keys.
			in := s.form("/oauth2/introspect", admin, url.Values{"token": {raw}}).JSON(t)
			if in["active"] != true || in["token_type"] != "api_key" {
				t.Fatalf("introspect key %v", in)
			}

			// Demoting the owner takes the permission from the key at once (within the cache TTL).
			want(t, s.api("PUT", "/api/v1/users/"+u["id"].(string)+"/roles", admin, map[string]any{"roles": []string{"viewer"}}), http.StatusOK)
			eventually(t, func() bool { return s.verifyKey(raw, "reviews:approve")["code"] == "INSUFFICIENT_PERMISSIONS" })
			if v := s.verifyKey(raw, "documents:read"); v["valid"] != true {
				t.Fatalf("documents:read is still the owner's: %v", v)
			}
			// Disabling the owner suspends the key.
			want(t, s.api("POST", "/api/v1/users/"+u["id"].(string)+"/disable", admin, nil), http.StatusOK)
			eventually(t, func() bool { return s.verifyKey(raw)["code"] == "SUSPENDED" })
			want(t, s.api("POST", "/api/v1/users/"+u["id"].(string)+"/enable", admin, nil), http.StatusOK)
			eventually(t, func() bool { return s.verifyKey(raw)["valid"] == true })

			// Rotation with grace: both secrets work; then revoke stops both at once.
			r = s.api("POST", "/api/v1/keys/"+id+"/rotate", admin, map[string]any{"grace": "1h"})
			want(t, r, http.StatusOK)
			next := r.JSON(t)["key"].(string)
			if next == raw || s.verifyKey(next)["valid"] != true || s.verifyKey(raw)["valid"] != true {
				t.Fatal("during the grace both secrets must verify")
			}
			want(t, s.api("DELETE", "/api/v1/keys/"+id, admin, nil), http.StatusNoContent)
			for _, key := range []string{raw, next} {
				if v := s.verifyKey(key); v["code"] != "REVOKED" {
					t.Fatalf("after revocation: %v", v)
				}
			}

			// Rate limit and quota.
			lim := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": "limited", "ratelimit": map[string]any{"limit": 2, "window": "1m"}, "prefix": "kx_live"}).JSON(t)
			lk := lim["key"].(string)
			if !strings.HasPrefix(lk, "kx_live_") {
				t.Fatalf("prefix: %s", lk)
			}
			s.verifyKey(lk)
			v = s.verifyKey(lk)
			if rl, _ := v["ratelimit"].(map[string]any); v["valid"] != true || rl["limit"] != float64(2) || rl["remaining"] != float64(0) {
				t.Fatalf("second use: %v", v)
			}
			if v := s.verifyKey(lk); v["code"] != "RATE_LIMITED" {
				t.Fatalf("third use: %v", v)
			}
			q := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": "quota", "quota": 1}).JSON(t)["key"].(string)
			if s.verifyKey(q)["valid"] != true || s.verifyKey(q)["code"] != "USAGE_EXCEEDED" {
				t.Fatal("a quota of 1 allows one use")
			}
			// Usage by outcome.
			us := s.api("GET", "/api/v1/keys/"+lim["id"].(string)+"/usage", admin, nil)
			want(t, us, http.StatusOK)
			total := us.JSON(t)["total"].(map[string]any)
			if total["valid"] != float64(2) || total["RATE_LIMITED"] != float64(1) {
				t.Fatalf("usage totals %v", total)
			}
			// Another user's keys are not visible.
			want(t, s.api("GET", "/api/v1/keys/"+lim["id"].(string), s.login("rita", ritaPassword)["access_token"].(string), nil), http.StatusNotFound)
			if ev := s.audit(admin, "action=key.*&limit=50"); len(ev) < 4 {
				t.Fatalf("key events: %d", len(ev))
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// eventually polls cond for up to 3 seconds (cache TTLs are at most 1 s).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 60; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 3s")
}
