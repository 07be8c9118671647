package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Passwords of the users the API tests create: long enough for the policy
// and free of every username used below.
const (
	userPassword = "tangerine orbit kettle 42"
	newPassword  = "violet harbor compass 97"
)

// TestUsersAPI covers the user resource of SPEC Appendix A: the exact wire
// shape, pending users, uniqueness (case-insensitive, NFKC), reads, paging,
// updates, roles and groups, disable/enable and delete.
func TestUsersAPI(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()

			r := s.api("POST", "/api/v1/users", admin, map[string]any{"username": "Rita", "email": "rita@example.com",
				"display_name": "Rita R.", "password": userPassword, "roles": []string{"reviewer"}})
			want(t, r, http.StatusCreated)
			u := r.JSON(t)
			id, _ := u["id"].(string)
			wantUser := map[string]any{"id": id, "username": "Rita", "email": "rita@example.com", "display_name": "Rita R.",
				"status": "active", "roles": []any{"reviewer"}, "groups": []any{}, "mfa": map[string]any{"totp": false},
				"created_at": u["created_at"], "updated_at": u["updated_at"], "last_login_at": nil, "locked_until": nil}
			if diff := cmp.Diff(wantUser, u); diff != "" {
				t.Fatalf("created user (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(id, "usr_") || r.Header.Get("Location") != "/api/v1/users/"+id {
				t.Errorf("id %q, Location %q", id, r.Header.Get("Location"))
			}
			for _, k := range []string{"created_at", "updated_at"} {
				v, _ := u[k].(string)
				if ts, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") || time.Since(ts) > time.Minute {
					t.Errorf("%s = %q is not a recent RFC 3339 UTC time", k, v)
				}
			}

			// Without a password: pending, with a one-time activation token.
			p := s.createUser(admin, map[string]any{"username": "pat"})
			if tok, _ := p["activation_token"].(string); p["status"] != "pending" || len(tok) < 43 {
				t.Fatalf("pending user = %v", p)
			}
			if p["email"] != nil || !slices.Equal(strSlice(p["groups"]), []string{"user"}) {
				t.Errorf("a user created without roles or groups should be in group user with no email: %v", p)
			}
			if g := s.api("GET", "/api/v1/users/"+p["id"].(string), admin, nil).JSON(t); g["activation_token"] != nil {
				t.Errorf("GET returns the activation token again: %v", g)
			}

			// Uniqueness: case-insensitive and NFKC for usernames; emails in any case.
			for _, c := range []struct {
				name string
				body map[string]any
				code string
			}{
				{"lower case", map[string]any{"username": "rita"}, "username_taken"},
				{"upper case", map[string]any{"username": "RITA"}, "username_taken"},
				{"full-width (NFKC)", map[string]any{"username": "ｒｉｔａ"}, "username_taken"},
				{"email in other case", map[string]any{"username": "rita2", "email": "RITA@Example.com"}, "email_taken"},
			} {
				t.Run(c.name, func(t *testing.T) {
					wantProblem(t, s.api("POST", "/api/v1/users", admin, c.body), http.StatusConflict, c.code)
				})
			}

			got := s.api("GET", "/api/v1/users/"+id, admin, nil)
			want(t, got, http.StatusOK)
			if diff := cmp.Diff(u, got.JSON(t)); diff != "" {
				t.Errorf("GET differs from the created user (-created +got):\n%s", diff)
			}
			wantProblem(t, s.api("GET", "/api/v1/users/usr_nope", admin, nil), http.StatusNotFound, "user_not_found")

			// Paging: q, status, limit and cursor; next_cursor is null on the last page.
			for _, n := range []string{"list-3", "list-1", "list-5", "list-2", "list-4"} {
				s.createUser(admin, map[string]any{"username": n})
			}
			var names []string
			path := "/api/v1/users?q=list-&limit=2"
			for pages := 0; ; pages++ {
				if pages > 3 {
					t.Fatal("paging does not end")
				}
				page := s.api("GET", path, admin, nil)
				want(t, page, http.StatusOK)
				m := page.JSON(t)
				for _, it := range m["items"].([]any) {
					names = append(names, it.(map[string]any)["username"].(string))
				}
				next, ok := m["next_cursor"].(string)
				if !ok {
					if _, present := m["next_cursor"]; !present || len(m["items"].([]any)) != 1 {
						t.Fatalf("last page = %s; want one item and next_cursor null", page.Body)
					}
					break
				}
				path = "/api/v1/users?q=list-&limit=2&cursor=" + next
			}
			if !slices.Equal(names, []string{"list-1", "list-2", "list-3", "list-4", "list-5"}) {
				t.Errorf("paged usernames = %v", names)
			}
			for q, n := range map[string]int{"q=list-&status=pending": 5, "q=list-&status=active": 0, "q=RITA": 1, "status=active": 2} {
				if items := s.api("GET", "/api/v1/users?"+q, admin, nil).JSON(t)["items"].([]any); len(items) != n {
					t.Errorf("?%s: %d users, want %d", q, len(items), n)
				}
			}
			for _, q := range []string{"status=bogus", "limit=0", "limit=201", "limit=x", "cursor=!!"} {
				if r := s.api("GET", "/api/v1/users?"+q, admin, nil); r.Status != http.StatusUnprocessableEntity {
					t.Errorf("?%s: status %d, want 422", q, r.Status)
				}
			}

			// PATCH email and display name.
			r = s.api("PATCH", "/api/v1/users/"+id, admin, map[string]any{"email": "rita.r@example.com", "display_name": "Rita Rivera"})
			want(t, r, http.StatusOK)
			if m := r.JSON(t); m["email"] != "rita.r@example.com" || m["display_name"] != "Rita Rivera" || m["username"] != "Rita" {
				t.Errorf("patched user = %v", m)
			}
			wantProblem(t, s.api("PATCH", "/api/v1/users/"+p["id"].(string), admin, map[string]any{"email": "Rita.R@example.com"}), http.StatusConflict, "email_taken")
			if m := wantProblem(t, s.api("PATCH", "/api/v1/users/"+id, admin, map[string]any{"email": "not an email"}), 422, "validation_failed"); fieldErr(m, "email") == "" {
				t.Errorf("invalid email: %v", m)
			}

			// Roles and groups.
			r = s.api("PUT", "/api/v1/users/"+id+"/roles", admin, map[string]any{"roles": []string{"viewer", "lead_reviewer", "viewer"}})
			want(t, r, http.StatusOK)
			if roles := strSlice(r.JSON(t)["roles"]); !slices.Equal(roles, []string{"lead_reviewer", "viewer"}) {
				t.Errorf("roles = %v", roles)
			}
			if m := wantProblem(t, s.api("PUT", "/api/v1/users/"+id+"/roles", admin, map[string]any{"roles": []string{"nope"}}), 422, "validation_failed"); fieldErr(m, "roles") == "" {
				t.Errorf("unknown role: %v", m)
			}
			r = s.api("PUT", "/api/v1/users/"+id+"/groups", admin, map[string]any{"groups": []string{"user"}})
			want(t, r, http.StatusOK)
			if groups := strSlice(r.JSON(t)["groups"]); !slices.Equal(groups, []string{"user"}) {
				t.Errorf("groups = %v", groups)
			}
			if m := wantProblem(t, s.api("PUT", "/api/v1/users/"+id+"/groups", admin, map[string]any{"groups": []string{"nope"}}), 422, "validation_failed"); fieldErr(m, "groups") == "" {
				t.Errorf("unknown group: %v", m)
			}

			// Disable: the user's access token is refused at once and the refresh token dies.
			tok := s.login("rita", userPassword)
			at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
			want(t, s.api("GET", "/api/v1/me", at, nil), http.StatusOK)
			r = s.api("POST", "/api/v1/users/"+id+"/disable", admin, nil)
			want(t, r, http.StatusOK)
			if r.JSON(t)["status"] != "disabled" {
				t.Fatalf("disable answered %s", r.Body)
			}
			wantProblem(t, s.api("GET", "/api/v1/me", at, nil), http.StatusUnauthorized, "invalid_token")
			if r := s.refresh(rt); r.Status != http.StatusBadRequest || r.JSON(t)["error"] != "invalid_grant" {
				t.Fatalf("refresh of a disabled user: %d %s", r.Status, r.Body)
			}
			r = s.api("POST", "/api/v1/users/"+id+"/enable", admin, nil)
			want(t, r, http.StatusOK)
			if r.JSON(t)["status"] != "active" {
				t.Fatalf("enable answered %s", r.Body)
			}
			// Signing in again right after the enable gives a working token.
			want(t, s.api("GET", "/api/v1/me", s.login("rita", userPassword)["access_token"].(string), nil), http.StatusOK)

			// Delete: 204, then 404; the audit trail stays.
			want(t, s.api("DELETE", "/api/v1/users/"+id, admin, nil), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/users/"+id, admin, nil), http.StatusNotFound, "user_not_found")
			wantProblem(t, s.api("DELETE", "/api/v1/users/"+id, admin, nil), http.StatusNotFound, "user_not_found")
			var actions []string
			for _, e := range s.audit(admin, "target_id="+id+"&limit=500") {
				actions = append(actions, e["action"].(string))
			}
			for _, a := range []string{"user.created", "user.updated", "user.roles_changed", "user.groups_changed", "user.disabled", "user.enabled", "user.deleted"} {
				if !slices.Contains(actions, a) {
					t.Errorf("audit of the deleted user lacks %s: %v", a, actions)
				}
			}
		})
	}
}

// TestLastAdminSafeguard covers SPEC §3: the last active admin cannot be
// disabled, deleted or demoted, and a refused attempt changes nothing.
func TestLastAdminSafeguard(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			me := s.api("GET", "/api/v1/me", admin, nil).JSON(t)
			id := me["id"].(string)
			users := "/api/v1/users/" + id

			wantProblem(t, s.api("POST", users+"/disable", admin, nil), http.StatusConflict, "last_admin")
			wantProblem(t, s.api("DELETE", users, admin, nil), http.StatusConflict, "last_admin")
			wantProblem(t, s.api("PUT", users+"/groups", admin, map[string]any{"groups": []string{}}), http.StatusConflict, "last_admin")
			// The refusals left the admin whole: same account, same working token.
			r := s.api("GET", "/api/v1/me", admin, nil)
			want(t, r, http.StatusOK)
			if m := r.JSON(t); m["status"] != "active" || !slices.Equal(strSlice(m["groups"]), []string{"admin"}) {
				t.Fatalf("after refused changes the admin is %v", m)
			}

			// Admin by a direct role: the group may go, the role may not.
			want(t, s.api("PUT", users+"/roles", admin, map[string]any{"roles": []string{"admin"}}), http.StatusOK)
			want(t, s.api("PUT", users+"/groups", admin, map[string]any{"groups": []string{}}), http.StatusOK)
			wantProblem(t, s.api("PUT", users+"/roles", admin, map[string]any{"roles": []string{}}), http.StatusConflict, "last_admin")

			// With a second admin, the first can be demoted (by the second).
			second := s.createUser(admin, map[string]any{"username": "second", "password": userPassword, "roles": []string{"admin"}})
			at2 := s.login("second", userPassword)["access_token"].(string)
			r = s.api("PUT", users+"/roles", at2, map[string]any{"roles": []string{}})
			want(t, r, http.StatusOK)
			if m := r.JSON(t); len(strSlice(m["roles"])) != 0 || len(strSlice(m["groups"])) != 0 {
				t.Fatalf("demoted admin = %v", m)
			}
			// The demoted admin's token lost its power at once.
			wantProblem(t, s.api("POST", "/api/v1/users", admin, map[string]any{"username": "x"}), http.StatusForbidden, "permission_denied")
			// Now the second is the last admin.
			wantProblem(t, s.api("POST", "/api/v1/users/"+second["id"].(string)+"/disable", at2, nil), http.StatusConflict, "last_admin")
		})
	}
}

// TestActivation covers pending users: activation, single use, the password
// policy, and re-issuing the token.
func TestActivation(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			p := s.createUser(admin, map[string]any{"username": "pending1", "email": "pending1@example.com"})
			tok := p["activation_token"].(string)

			// The login of a pending user fails like any wrong password.
			if r := s.form("/oauth2/token", "", passwordForm("pending1", userPassword)); r.Status != http.StatusBadRequest || r.JSON(t)["error"] != "invalid_grant" {
				t.Fatalf("pending login: %d %s", r.Status, r.Body)
			}
			for _, weak := range []string{"short", "my pending1 password", "pending1@example.com is me"} {
				m := wantProblem(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": tok, "password": weak}), 422, "weak_password")
				if fieldErr(m, "password") == "" {
					t.Errorf("weak password %q: %v", weak, m)
				}
			}
			want(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": tok, "password": userPassword}), http.StatusNoContent)
			s.login("pending1", userPassword)
			if u := s.api("GET", "/api/v1/users/"+p["id"].(string), admin, nil).JSON(t); u["status"] != "active" {
				t.Errorf("activated user = %v", u)
			}
			// Single use.
			m := wantProblem(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": tok, "password": newPassword}), 422, "invalid_activation_token")
			if fieldErr(m, "activation_token") == "" {
				t.Errorf("reused token: %v", m)
			}
			wantProblem(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": "forged", "password": newPassword}), 422, "invalid_activation_token")
			// A new token replaces the old one; only pending users get one.
			wantProblem(t, s.api("POST", "/api/v1/users/"+p["id"].(string)+"/activation-token", admin, nil), http.StatusConflict, "user_not_active")
			q := s.createUser(admin, map[string]any{"username": "pending2"})
			r := s.api("POST", "/api/v1/users/"+q["id"].(string)+"/activation-token", admin, nil)
			want(t, r, http.StatusOK)
			issued := r.JSON(t)
			exp, err := time.Parse(time.RFC3339Nano, issued["expires_at"].(string))
			if err != nil || exp.Before(time.Now().Add(23*time.Hour)) || exp.After(time.Now().Add(25*time.Hour)) {
				t.Errorf("expires_at = %v, want in 24h", issued["expires_at"])
			}
			wantProblem(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": q["activation_token"], "password": userPassword}), 422, "invalid_activation_token")
			want(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": issued["activation_token"], "password": userPassword}), http.StatusNoContent)
			s.login("pending2", userPassword)
		})
	}
}

// TestPasswordChanges covers the admin reset and the self-service change
// (SPEC §15 re-authentication: the current password is needed; other
// sessions are revoked; the session that made the change lives on).
func TestPasswordChanges(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			u := s.createUser(admin, map[string]any{"username": "paula", "password": userPassword})
			id := u["id"].(string)

			old := s.login("paula", userPassword)
			want(t, s.api("POST", "/api/v1/users/"+id+"/password", admin, map[string]any{"password": newPassword}), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/me", old["access_token"].(string), nil), http.StatusUnauthorized, "invalid_token")
			want(t, s.refresh(old["refresh_token"].(string)), http.StatusBadRequest)
			want(t, s.form("/oauth2/token", "", passwordForm("paula", userPassword)), http.StatusBadRequest)
			wantProblem(t, s.api("POST", "/api/v1/users/"+id+"/password", admin, map[string]any{"password": "short"}), 422, "weak_password")

			a, b := s.login("paula", newPassword), s.login("paula", newPassword)
			atA := a["access_token"].(string)
			want(t, s.api("GET", "/api/v1/me", atA, nil), http.StatusOK)
			m := wantProblem(t, s.api("POST", "/api/v1/me/password", atA, map[string]any{"current_password": "wrong password here", "new_password": userPassword}), 422, "wrong_password")
			if fieldErr(m, "current_password") == "" {
				t.Errorf("wrong current password: %v", m)
			}
			// Nothing changed: b still works.
			want(t, s.api("GET", "/api/v1/me", b["access_token"].(string), nil), http.StatusOK)
			wantProblem(t, s.api("POST", "/api/v1/me/password", atA, map[string]any{"current_password": newPassword, "new_password": "short"}), 422, "weak_password")
			want(t, s.api("POST", "/api/v1/me/password", atA, map[string]any{"current_password": newPassword, "new_password": userPassword}), http.StatusNoContent)
			// The other session is gone, this one lives on.
			wantProblem(t, s.api("GET", "/api/v1/me", b["access_token"].(string), nil), http.StatusUnauthorized, "invalid_token")
			want(t, s.refresh(b["refresh_token"].(string)), http.StatusBadRequest)
			want(t, s.api("GET", "/api/v1/me", atA, nil), http.StatusOK)
			want(t, s.refresh(a["refresh_token"].(string)), http.StatusOK)
			want(t, s.form("/oauth2/token", "", passwordForm("paula", newPassword)), http.StatusBadRequest)
			want(t, s.api("GET", "/api/v1/me", s.login("paula", userPassword)["access_token"].(string), nil), http.StatusOK)
		})
	}
}

// TestMeAndSessions covers GET /api/v1/me and the session lists of the user
// and of an admin, with revocation taking effect at once.
func TestMeAndSessions(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			u := s.createUser(admin, map[string]any{"username": "sam", "email": "sam@example.com", "password": userPassword})
			id := u["id"].(string)
			a, b, c := s.login("sam", userPassword), s.login("sam", userPassword), s.login("sam", userPassword)
			atA := a["access_token"].(string)

			me := s.api("GET", "/api/v1/me", atA, nil)
			want(t, me, http.StatusOK)
			if m := me.JSON(t); m["id"] != id || m["username"] != "sam" || m["email"] != "sam@example.com" || m["last_login_at"] == nil {
				t.Errorf("me = %v", m)
			}

			list := func(path, token string) []map[string]any {
				t.Helper()
				r := s.api("GET", path, token, nil)
				want(t, r, http.StatusOK)
				var out []map[string]any
				for _, it := range r.JSON(t)["items"].([]any) {
					out = append(out, it.(map[string]any))
				}
				return out
			}
			sessions := list("/api/v1/me/sessions", atA)
			if len(sessions) != 3 {
				t.Fatalf("%d sessions, want 3", len(sessions))
			}
			for _, x := range sessions {
				for _, k := range []string{"id", "client_id", "created_at", "last_used_at", "ip", "user_agent"} {
					if _, ok := x[k]; !ok {
						t.Errorf("session lacks %s: %v", k, x)
					}
				}
				if x["client_id"] != "gatehouse" || x["ip"] != "127.0.0.1" || !strings.HasPrefix(x["user_agent"].(string), "Go-http-client") {
					t.Errorf("session = %v", x)
				}
			}
			sid := func(tok map[string]any) string {
				return jwtClaims(t, tok["access_token"].(string))["sid"].(string)
			}

			// The user ends session b.
			want(t, s.api("DELETE", "/api/v1/me/sessions/"+sid(b), atA, nil), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/me", b["access_token"].(string), nil), http.StatusUnauthorized, "invalid_token")
			want(t, s.refresh(b["refresh_token"].(string)), http.StatusBadRequest)
			if n := len(list("/api/v1/me/sessions", atA)); n != 2 {
				t.Errorf("%d sessions after one was revoked, want 2", n)
			}
			wantProblem(t, s.api("DELETE", "/api/v1/me/sessions/ses_nope", atA, nil), http.StatusNotFound, "session_not_found")
			// Nobody can end another user's session through /me.
			adminSID := jwtClaims(t, admin)["sid"].(string)
			wantProblem(t, s.api("DELETE", "/api/v1/me/sessions/"+adminSID, atA, nil), http.StatusNotFound, "session_not_found")
			want(t, s.api("GET", "/api/v1/me", admin, nil), http.StatusOK)

			// The admin lists and ends sessions of the user.
			if n := len(list("/api/v1/users/"+id+"/sessions", admin)); n != 2 {
				t.Errorf("admin sees %d sessions, want 2", n)
			}
			want(t, s.api("DELETE", "/api/v1/users/"+id+"/sessions/"+sid(c), admin, nil), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/me", c["access_token"].(string), nil), http.StatusUnauthorized, "invalid_token")
			wantProblem(t, s.api("DELETE", "/api/v1/users/"+id+"/sessions/"+adminSID, admin, nil), http.StatusNotFound, "session_not_found")
			want(t, s.api("GET", "/api/v1/me", atA, nil), http.StatusOK)
			want(t, s.api("DELETE", "/api/v1/users/"+id+"/sessions", admin, nil), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/me", atA, nil), http.StatusUnauthorized, "invalid_token")
			want(t, s.refresh(a["refresh_token"].(string)), http.StatusBadRequest)
			if n := len(list("/api/v1/users/"+id+"/sessions", admin)); n != 0 {
				t.Errorf("%d sessions after revoking all, want 0", n)
			}
			wantProblem(t, s.api("GET", "/api/v1/users/usr_nope/sessions", admin, nil), http.StatusNotFound, "user_not_found")
		})
	}
}
