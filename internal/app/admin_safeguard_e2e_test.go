package app_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"
)

// TestRoleAndGroupEditsKeepAnAdmin covers SPEC §3 and Appendix A for role
// and group edits: on a fresh install, demoting the admin group or
// stripping the admin role would leave no admin, so each answers 409
// last_admin and changes nothing; once another user holds every admin
// permission (here through a custom role), the same edit goes through.
func TestRoleAndGroupEditsKeepAnAdmin(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			adminPerms := []string{"users:manage", "roles:manage", "keys:manage", "clients:manage",
				"providers:manage", "settings:manage", "tokens:introspect"}

			for _, c := range []struct {
				name, method, path string
				body               map[string]any
			}{
				{"demote the admin group", "PUT", "/api/v1/groups/admin", map[string]any{"name": "admin", "roles": []string{"viewer"}}},
				{"empty the admin group", "PUT", "/api/v1/groups/admin", map[string]any{"roles": []string{}}},
				{"strip the admin role", "PUT", "/api/v1/roles/admin", map[string]any{"permissions": []string{}, "inherits": []string{"viewer"}}},
				{"drop one admin permission", "PUT", "/api/v1/roles/admin", map[string]any{"permissions": adminPerms[:6], "inherits": []string{"lead_reviewer"}}},
			} {
				t.Run(c.name, func(t *testing.T) {
					wantProblem(t, s.api(c.method, c.path, admin, c.body), http.StatusConflict, "last_admin")
				})
			}
			// The refusals changed nothing: the admin still administers.
			want(t, s.api("GET", "/api/v1/users", admin, nil), http.StatusOK)
			g := s.api("GET", "/api/v1/groups", admin, nil)
			want(t, g, http.StatusOK)
			for _, it := range g.JSON(t)["items"].([]any) {
				if m := it.(map[string]any); m["name"] == "admin" && !slices.Equal(strSlice(m["roles"]), []string{"admin"}) {
					t.Fatalf("admin group after refused edits = %v", m)
				}
			}

			// A custom group that makes the only admin: it cannot be deleted.
			want(t, s.api("POST", "/api/v1/groups", admin, map[string]any{"name": "ops", "roles": []string{"admin"}}), http.StatusCreated)
			me := s.api("GET", "/api/v1/me", admin, nil).JSON(t)
			want(t, s.api("PUT", "/api/v1/users/"+me["id"].(string)+"/groups", admin, map[string]any{"groups": []string{"ops"}}), http.StatusOK)
			wantProblem(t, s.api("DELETE", "/api/v1/groups/ops", admin, nil), http.StatusConflict, "last_admin")
			if code, out, errOut := s.cli("doctor"); code != 0 || !regexp.MustCompile(`WARN\s+only 1 active admin`).MatchString(out) {
				t.Errorf("doctor: exit %d\n%s%s", code, out, errOut)
			}

			// A second user holding every admin permission through a custom
			// role is an admin: now the edits go through, and the first
			// admin's power goes with them at once.
			want(t, s.api("POST", "/api/v1/roles", admin, map[string]any{"name": "operator", "permissions": adminPerms}), http.StatusCreated)
			s.createUser(admin, map[string]any{"username": "opal", "password": userPassword, "roles": []string{"operator"}})
			opal := s.login("opal", userPassword)["access_token"].(string)
			if code, out, _ := s.cli("doctor"); code != 0 || !regexp.MustCompile(`OK\s+2 active admins`).MatchString(out) {
				t.Errorf("doctor with an admin by a custom role: exit %d\n%s", code, out)
			}
			want(t, s.api("PUT", "/api/v1/roles/admin", opal, map[string]any{"permissions": []string{}, "inherits": []string{"viewer"}}), http.StatusOK)
			wantProblem(t, s.api("GET", "/api/v1/clients", admin, nil), http.StatusForbidden, "permission_denied")
			// opal is now the last admin, by a role not named admin.
			wantProblem(t, s.api("PUT", "/api/v1/roles/operator", opal, map[string]any{"permissions": adminPerms[1:]}), http.StatusConflict, "last_admin")
			want(t, s.api("GET", "/api/v1/clients", opal, nil), http.StatusOK)
		})
	}
}
