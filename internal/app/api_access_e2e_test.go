package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRolesAndGroupsAPI covers the role hierarchy (effective permissions,
// inheritance into tokens, cycles, deletion rules) and group CRUD.
func TestRolesAndGroupsAPI(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			roles := func() map[string]map[string]any {
				t.Helper()
				r := s.api("GET", "/api/v1/roles", admin, nil)
				want(t, r, http.StatusOK)
				out := map[string]map[string]any{}
				for _, it := range r.JSON(t)["items"].([]any) {
					m := it.(map[string]any)
					out[m["name"].(string)] = m
				}
				return out
			}
			rv := roles()["reviewer"]
			if p := strSlice(rv["permissions"]); !slices.Equal(p, []string{"documents:read", "reviews:approve", "reviews:read", "reviews:write"}) ||
				!slices.Equal(strSlice(rv["inherits"]), []string{"viewer"}) {
				t.Errorf("reviewer = %v; want the inherited documents:read and reviews:read among its effective permissions", rv)
			}
			if p := strSlice(roles()["admin"]["permissions"]); !slices.Contains(p, "documents:read") || !slices.Contains(p, "tokens:introspect") {
				t.Errorf("admin permissions = %v", p)
			}

			r := s.api("POST", "/api/v1/roles", admin, map[string]any{"name": "auditor", "permissions": []string{"audit:read"}})
			want(t, r, http.StatusCreated)
			r = s.api("POST", "/api/v1/roles", admin, map[string]any{"name": "senior_auditor", "inherits": []string{"auditor"}, "permissions": []string{"reports:read"}})
			want(t, r, http.StatusCreated)
			if p := strSlice(r.JSON(t)["permissions"]); !slices.Equal(p, []string{"audit:read", "reports:read"}) {
				t.Errorf("senior_auditor effective permissions = %v", p)
			}
			for _, c := range []struct {
				name, method, path string
				body               map[string]any
				status             int
				code               string
			}{
				{"duplicate", "POST", "/api/v1/roles", map[string]any{"name": "auditor"}, 409, "role_exists"},
				{"cycle", "PUT", "/api/v1/roles/auditor", map[string]any{"inherits": []string{"senior_auditor"}}, 422, "role_cycle"},
				{"self", "POST", "/api/v1/roles", map[string]any{"name": "loop", "inherits": []string{"loop"}}, 422, "role_cycle"},
				{"bad name", "POST", "/api/v1/roles", map[string]any{"name": "Bad Name"}, 422, "validation_failed"},
				{"bad permission", "POST", "/api/v1/roles", map[string]any{"name": "odd", "permissions": []string{"nocolon"}}, 422, "validation_failed"},
				{"unknown parent", "POST", "/api/v1/roles", map[string]any{"name": "odd", "inherits": []string{"nope"}}, 422, "validation_failed"},
				{"rename", "PUT", "/api/v1/roles/auditor", map[string]any{"name": "other"}, 422, "validation_failed"},
				{"unknown role", "PUT", "/api/v1/roles/nope", map[string]any{}, 404, "role_not_found"},
			} {
				t.Run(c.name, func(t *testing.T) { wantProblem(t, s.api(c.method, c.path, admin, c.body), c.status, c.code) })
			}

			// A token carries inherited permissions.
			s.createUser(admin, map[string]any{"username": "audra", "password": userPassword, "roles": []string{"senior_auditor"}})
			at := s.login("audra", userPassword)["access_token"].(string)
			want(t, s.api("GET", "/api/v1/audit", at, nil), http.StatusOK)
			wantProblem(t, s.api("GET", "/api/v1/users", at, nil), http.StatusForbidden, "permission_denied")

			// In use (by a user, by an inheriting role) and built-in roles stay.
			wantProblem(t, s.api("DELETE", "/api/v1/roles/senior_auditor", admin, nil), http.StatusConflict, "role_in_use")
			wantProblem(t, s.api("DELETE", "/api/v1/roles/auditor", admin, nil), http.StatusConflict, "role_in_use")
			wantProblem(t, s.api("DELETE", "/api/v1/roles/viewer", admin, nil), http.StatusConflict, "role_in_use")
			wantProblem(t, s.api("DELETE", "/api/v1/roles/nope", admin, nil), http.StatusNotFound, "role_not_found")
			want(t, s.api("POST", "/api/v1/roles", admin, map[string]any{"name": "temp"}), http.StatusCreated)
			want(t, s.api("DELETE", "/api/v1/roles/temp", admin, nil), http.StatusNoContent)
			if _, ok := roles()["temp"]; ok {
				t.Error("deleted role still listed")
			}
			if p := strSlice(s.api("GET", "/api/v1/permissions", admin, nil).JSON(t)["items"]); !slices.Contains(p, "reports:read") || !slices.Contains(p, "documents:read") {
				t.Errorf("permissions = %v", p)
			}

			// Groups.
			r = s.api("POST", "/api/v1/groups", admin, map[string]any{"name": "auditors", "roles": []string{"auditor"}})
			want(t, r, http.StatusCreated)
			if g := r.JSON(t); g["name"] != "auditors" || !slices.Equal(strSlice(g["roles"]), []string{"auditor"}) || g["built_in"] != false {
				t.Errorf("created group = %v", g)
			}
			wantProblem(t, s.api("POST", "/api/v1/groups", admin, map[string]any{"name": "auditors"}), http.StatusConflict, "group_exists")
			wantProblem(t, s.api("POST", "/api/v1/groups", admin, map[string]any{"name": "g2", "roles": []string{"nope"}}), 422, "validation_failed")
			r = s.api("PUT", "/api/v1/groups/auditors", admin, map[string]any{"roles": []string{"senior_auditor"}})
			want(t, r, http.StatusOK)
			wantProblem(t, s.api("PUT", "/api/v1/groups/nope", admin, map[string]any{"roles": []string{}}), http.StatusNotFound, "group_not_found")
			var names []string
			for _, it := range s.api("GET", "/api/v1/groups", admin, nil).JSON(t)["items"].([]any) {
				names = append(names, it.(map[string]any)["name"].(string))
			}
			slices.Sort(names)
			if !slices.Equal(names, []string{"admin", "auditors", "user"}) {
				t.Errorf("groups = %v", names)
			}
			want(t, s.api("DELETE", "/api/v1/groups/auditors", admin, nil), http.StatusNoContent)
			wantProblem(t, s.api("DELETE", "/api/v1/groups/auditors", admin, nil), http.StatusNotFound, "group_not_found")
			for _, g := range []string{"admin", "user"} {
				if r := s.api("DELETE", "/api/v1/groups/"+g, admin, nil); r.Status != http.StatusConflict {
					t.Errorf("deleting built-in group %s: %d %s", g, r.Status, r.Body)
				}
			}
		})
	}
}

// TestPermissionsAndScope covers SPEC §15: the management API checks the
// token's scope as well as the user's role, answers RFC 9457 problems, and
// records denials as access.denied, rate-limited per actor.
func TestPermissionsAndScope(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			v := s.createUser(admin, map[string]any{"username": "vic", "password": userPassword})
			viewer := s.login("vic", userPassword)["access_token"].(string)
			body := map[string]any{"username": "newbie"}

			wantProblem(t, s.api("POST", "/api/v1/users", viewer, body), http.StatusForbidden, "permission_denied")
			wantProblem(t, s.api("GET", "/api/v1/audit", viewer, nil), http.StatusForbidden, "permission_denied")
			wantProblem(t, s.api("GET", "/api/v1/users", "", nil), http.StatusUnauthorized, "unauthenticated")

			narrow := s.login("admin", adminPassword, "scope", "documents:read")
			if narrow["scope"] != "documents:read" {
				t.Fatalf("scope = %v, want documents:read", narrow["scope"])
			}
			scoped := narrow["access_token"].(string)
			wantProblem(t, s.api("POST", "/api/v1/users", scoped, body), http.StatusForbidden, "insufficient_scope")
			want(t, s.api("GET", "/api/v1/me", scoped, nil), http.StatusOK)
			// An unknown scope grants nothing; the full admin token still works.
			if sc := s.login("admin", adminPassword, "scope", "bogus:scope")["scope"]; sc != nil && sc != "" {
				t.Errorf("unknown scope granted %v", sc)
			}
			want(t, s.api("POST", "/api/v1/users", admin, body), http.StatusCreated)

			adminID := s.api("GET", "/api/v1/me", admin, nil).JSON(t)["id"].(string)
			for actor, reason := range map[string]string{v["id"].(string): "permission_denied", adminID: "insufficient_scope"} {
				events := s.audit(admin, "action=access.denied&actor_id="+actor)
				if len(events) != 1 {
					t.Fatalf("actor %s: %d access.denied events, want 1 (two quick denials are recorded once)", actor, len(events))
				}
				e := events[0]
				if e["outcome"] != "denied" || e["reason"] != reason || e["target"].(map[string]any)["id"] != "POST /api/v1/users" {
					t.Errorf("access.denied = %v", e)
				}
			}
		})
	}
}

// TestClientsAPI covers OAuth client management: the secret is shown once,
// the built-in client stays, deletion takes effect.
func TestClientsAPI(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			r := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "spa", "type": "public", "grant_types": []string{"password", "refresh_token"}})
			want(t, r, http.StatusCreated)
			pub := r.JSON(t)
			if _, ok := pub["client_secret"]; ok || !strings.HasPrefix(pub["client_id"].(string), "cli_") {
				t.Errorf("public client = %v", pub)
			}
			r = s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "svc", "type": "confidential",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"documents:read"}})
			want(t, r, http.StatusCreated)
			conf := r.JSON(t)
			id, sec := conf["client_id"].(string), conf["client_secret"].(string)
			if len(sec) < 43 || r.Header.Get("Location") != "/api/v1/clients/"+id {
				t.Fatalf("confidential client = %v", conf)
			}
			got := s.api("GET", "/api/v1/clients/"+id, admin, nil)
			want(t, got, http.StatusOK)
			list := s.api("GET", "/api/v1/clients", admin, nil)
			want(t, list, http.StatusOK)
			for _, b := range [][]byte{got.Body, list.Body} {
				if strings.Contains(string(b), sec) || strings.Contains(string(b), "client_secret") {
					t.Fatalf("the secret is returned again: %s", b)
				}
			}
			var ids []string
			for _, it := range list.JSON(t)["items"].([]any) {
				ids = append(ids, it.(map[string]any)["client_id"].(string))
			}
			for _, want := range []string{"gatehouse", id, pub["client_id"].(string)} {
				if !slices.Contains(ids, want) {
					t.Errorf("client list %v lacks %s", ids, want)
				}
			}
			cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec}}
			want(t, s.form("/oauth2/token", "", cc), http.StatusOK)

			for _, c := range []struct {
				name  string
				body  map[string]any
				field string
			}{
				{"type", map[string]any{"name": "x", "type": "weird", "grant_types": []string{"password"}}, "type"},
				{"public client_credentials", map[string]any{"name": "x", "type": "public", "grant_types": []string{"client_credentials"}}, "grant_types"},
				{"unknown scope", map[string]any{"name": "x", "type": "public", "grant_types": []string{"password"}, "scopes": []string{"nope:nope"}}, "scopes"},
				{"redirect", map[string]any{"name": "x", "type": "public", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://evil.example/cb"}}, "redirect_uris"},
			} {
				t.Run(c.name, func(t *testing.T) {
					if m := wantProblem(t, s.api("POST", "/api/v1/clients", admin, c.body), 422, "validation_failed"); fieldErr(m, c.field) == "" {
						t.Errorf("want errors.%s: %v", c.field, m)
					}
				})
			}

			want(t, s.api("DELETE", "/api/v1/clients/"+id, admin, nil), http.StatusNoContent)
			wantProblem(t, s.api("GET", "/api/v1/clients/"+id, admin, nil), http.StatusNotFound, "client_not_found")
			if r := s.form("/oauth2/token", "", cc); r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_client" {
				t.Errorf("deleted client still gets tokens: %d %s", r.Status, r.Body)
			}
			wantProblem(t, s.api("DELETE", "/api/v1/clients/gatehouse", admin, nil), http.StatusConflict, "client_built_in")
			var actions []string
			for _, e := range s.audit(admin, "action=client.*") {
				actions = append(actions, e["action"].(string))
			}
			if !slices.Equal(actions, []string{"client.deleted", "client.created", "client.created"}) {
				t.Errorf("client.* events = %v", actions)
			}
		})
	}
}

// TestPasswordGrantErrors covers SPEC §4 and §15: no user enumeration, the
// failure reasons in the audit log, and who may use the password grant.
func TestPasswordGrantErrors(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			u := s.createUser(admin, map[string]any{"username": "gina", "password": userPassword})

			wrong := s.form("/oauth2/token", "", passwordForm("gina", "not the password"))
			unknown := s.form("/oauth2/token", "", passwordForm("nobody", "not the password"))
			if wrong.Status != unknown.Status || string(wrong.Body) != string(unknown.Body) {
				t.Fatalf("wrong password and unknown user answer differently:\n%d %s\n%d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
			}
			if m := wrong.JSON(t); wrong.Status != 400 || m["error"] != "invalid_grant" || m["error_description"] != "invalid username or password" {
				t.Fatalf("wrong password: %d %s", wrong.Status, wrong.Body)
			}
			failures := s.audit(admin, "action=auth.login&outcome=failure")
			if len(failures) != 2 {
				t.Fatalf("%d failed logins recorded, want 2", len(failures))
			}
			for _, e := range failures {
				if e["reason"] != "invalid_credentials" {
					t.Errorf("failure reason = %v", e["reason"])
				}
			}
			if failures[1]["target"].(map[string]any)["id"] != u["id"] || failures[0]["metadata"].(map[string]any)["username"] != "nobody" {
				t.Errorf("failures = %v", failures)
			}

			want(t, s.api("POST", "/api/v1/users/"+u["id"].(string)+"/disable", admin, nil), http.StatusOK)
			r := s.form("/oauth2/token", "", passwordForm("gina", userPassword))
			if m := r.JSON(t); r.Status != 400 || m["error"] != "invalid_grant" || !strings.Contains(m["error_description"].(string), "disabled") {
				t.Fatalf("disabled user: %d %s", r.Status, r.Body)
			}
			if e := s.audit(admin, "action=auth.login&outcome=failure&limit=1"); e[0]["reason"] != "disabled" {
				t.Errorf("disabled login recorded as %v", e[0])
			}
			// Without the right password, a disabled account is not revealed.
			if r := s.form("/oauth2/token", "", passwordForm("gina", "not the password")); string(r.Body) != string(wrong.Body) {
				t.Errorf("a disabled user with a wrong password answers %s", r.Body)
			}

			for _, c := range []struct{ name, typ, grant string }{
				{"confidential", "confidential", "client_credentials"},
				{"public", "public", "refresh_token"},
			} {
				t.Run(c.name, func(t *testing.T) {
					cl := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": c.name, "type": c.typ, "grant_types": []string{c.grant}}).JSON(t)
					f := passwordForm("admin", adminPassword)
					f.Set("client_id", cl["client_id"].(string))
					if sec, ok := cl["client_secret"].(string); ok {
						f.Set("client_secret", sec)
					}
					r := s.form("/oauth2/token", "", f)
					if r.Status != 400 || r.JSON(t)["error"] != "unauthorized_client" {
						t.Errorf("client without the password grant: %d %s", r.Status, r.Body)
					}
				})
			}

			off := startServer(t, engine, map[string]string{"GATEHOUSE_PASSWORD_GRANT": "false"})
			r = off.form("/oauth2/token", "", passwordForm("admin", adminPassword))
			if r.Status != 400 || r.JSON(t)["error"] != "unsupported_grant_type" {
				t.Errorf("GATEHOUSE_PASSWORD_GRANT=false: %d %s", r.Status, r.Body)
			}
		})
	}
}

var oneTimePasswordRE = regexp.MustCompile(`one-time password:\s+(\S+)`)

// TestBootstrapAdmin covers SPEC §1 and §15: a generated bootstrap password
// is printed once and must be changed at first sign-in; with the default
// GATEHOUSE_MFA_REQUIRED_ROLES the admin must enrol a second factor.
func TestBootstrapAdmin(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD": ""})
			m := oneTimePasswordRE.FindStringSubmatch(s.stderr.String())
			if m == nil {
				t.Fatalf("no one-time password on stderr:\n%s", s.stderr.String())
			}
			generated := m[1]
			if len(generated) < 22 {
				t.Errorf("generated password %q is short", generated)
			}
			r := s.form("/oauth2/token", "", passwordForm("admin", generated))
			if r.Status != http.StatusForbidden {
				t.Fatalf("first sign-in: %d %s", r.Status, r.Body)
			}
			body := r.JSON(t)
			change, _ := body["password_change_token"].(string)
			if body["error"] != "password_change_required" || len(change) < 43 || body["access_token"] != nil {
				t.Fatalf("first sign-in answered %s", r.Body)
			}
			// The token serves only the password change.
			wantProblem(t, s.api("GET", "/api/v1/me", change, nil), http.StatusUnauthorized, "invalid_token")
			wantProblem(t, s.api("GET", "/api/v1/users", change, nil), http.StatusUnauthorized, "invalid_token")
			wantProblem(t, s.api("POST", "/api/v1/me/password", change, map[string]any{"current_password": "wrong one", "new_password": adminPassword}), 422, "wrong_password")
			want(t, s.api("POST", "/api/v1/me/password", change, map[string]any{"current_password": generated, "new_password": adminPassword}), http.StatusNoContent)
			want(t, s.api("GET", "/api/v1/me", s.admin(), nil), http.StatusOK)
			wantProblem(t, s.api("POST", "/api/v1/me/password", change, map[string]any{"current_password": adminPassword, "new_password": newPassword}), http.StatusUnauthorized, "invalid_token")
			want(t, s.form("/oauth2/token", "", passwordForm("admin", generated)), http.StatusBadRequest)
			if strings.Contains(s.stderr.String()[strings.Index(s.stderr.String(), generated)+len(generated):], generated) {
				t.Error("the one-time password was printed more than once")
			}

			mfa := startServer(t, engine, map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": ""})
			r = mfa.form("/oauth2/token", "", passwordForm("admin", adminPassword))
			body = r.JSON(t)
			tok, _ := body["mfa_token"].(string)
			if r.Status != http.StatusForbidden || body["error"] != "mfa_enrollment_required" || len(tok) < 43 || body["access_token"] != nil {
				t.Fatalf("admin without MFA: %d %s", r.Status, r.Body)
			}
			wantProblem(t, mfa.api("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "invalid_token")
		})
	}
}
