package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TestWrongMethod covers RFC 9110 §15.5.6: a path served for other methods
// answers 405 with Allow (a problem, or an RFC 6749 error under /oauth2/),
// TRACE and CONNECT are refused with 405 on every path, and a path no route
// serves stays a 404 problem.
func TestWrongMethod(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.no5xx = true
	for _, c := range []struct {
		method, path, allow string
		oauth               bool
	}{
		{"PUT", "/api/v1/users", "GET, HEAD, POST", false},
		{"PATCH", "/api/v1/roles", "GET, HEAD, POST", false},
		{"POST", "/api/v1/me", "GET, HEAD, PATCH", false},
		{"GET", "/api/v1/users/usr_x/roles", "PUT", false},
		{"OPTIONS", "/api/v1/activate", "POST", false},
		{"POST", "/.well-known/jwks.json", "GET, HEAD", false},
		{"TRACE", "/api/v1/me", "GET, HEAD, PATCH", false},
		{"TRACE", "/api/v1/nope", "", false},
		{"GET", "/oauth2/token", "POST", true},
		{"GET", "/oauth2/introspect", "POST", true},
		{"DELETE", "/oauth2/userinfo", "GET, HEAD, POST", true},
		{"TRACE", "/oauth2/token", "POST", true},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := s.do(c.method, c.path, s.admin(), "", nil)
			allow, sent := r.Header["Allow"]
			if !sent || strings.Join(allow, ", ") != c.allow {
				t.Errorf("Allow = %q (sent %v), want %q", allow, sent, c.allow)
			}
			if !c.oauth {
				wantProblem(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
				return
			}
			want(t, r, http.StatusMethodNotAllowed)
			if ct := r.Header.Get("Content-Type"); ct != "application/json" || r.JSON(t)["error"] != "invalid_request" ||
				r.JSON(t)["error_description"] == nil || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("want an RFC 6749 invalid_request: %s %s %v", ct, r.Body, r.Header)
			}
		})
	}
	if r := s.do("CONNECT", "/api/v1/me", s.admin(), "", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: %d %s", r.Status, r.Body)
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r := s.api(m, "/api/v1/nope", s.admin(), nil)
		wantProblem(t, r, http.StatusNotFound, "not_found")
		if allow, sent := r.Header["Allow"]; sent {
			t.Errorf("%s: a 404 with Allow %q", m, allow)
		}
	}
}

// TestUnsupportedMediaType covers RFC 9110 §15.5.16: a JSON endpoint given
// another media type answers 415 and says what it takes; JSON with
// parameters, and no Content-Type at all, are still read.
func TestUnsupportedMediaType(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.no5xx = true
	admin := s.admin()
	for _, c := range []struct {
		method, path, contentType, body, acceptHeader string
	}{
		{"POST", "/api/v1/users", "text/plain", `{"username":"abc"}`, "Accept-Post"},
		{"POST", "/api/v1/users", "application/x-www-form-urlencoded", `username=abc`, "Accept-Post"},
		{"POST", "/api/v1/users", "multipart/form-data; boundary=x", "--x--", "Accept-Post"},
		{"POST", "/api/v1/users", "application/json; a=\"", `{"username":"abc"}`, "Accept-Post"},
		{"PATCH", "/api/v1/users/usr_x", "text/plain", `{"display_name":"x"}`, "Accept-Patch"},
		{"PUT", "/api/v1/roles/r", "text/xml", `<role/>`, ""},
	} {
		t.Run(c.method+" "+c.contentType, func(t *testing.T) {
			r := s.do(c.method, c.path, admin, c.contentType, strings.NewReader(c.body))
			wantProblem(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
			if r.Header.Get("Accept") != "application/json" {
				t.Errorf("Accept = %q", r.Header.Get("Accept"))
			}
			if c.acceptHeader != "" && r.Header.Get(c.acceptHeader) != "application/json" {
				t.Errorf("%s = %q", c.acceptHeader, r.Header.Get(c.acceptHeader))
			}
		})
	}
	want(t, s.do("POST", "/api/v1/users", admin, "application/json; charset=utf-8", strings.NewReader(`{"username":"withcharset"}`)), http.StatusCreated)
	u := s.do("POST", "/api/v1/users", admin, "", strings.NewReader(`{"username":"nocontenttype"}`))
	want(t, u, http.StatusCreated)
	id := u.JSON(t)["id"].(string)
	want(t, s.do("POST", "/api/v1/users/"+id+"/disable", admin, "", nil), http.StatusOK)
}

// TestBearerChallenges covers RFC 6750 §3: a 401 without credentials has the
// bare challenge, one with a refused token error="invalid_token", and a 403
// for a token without the scope error="insufficient_scope" and the scope;
// a 403 for what the user may not do has no challenge.
func TestBearerChallenges(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "vic", "password": userPassword})
	viewer := s.login("vic", userPassword)["access_token"].(string)
	scoped := s.login("admin", adminPassword, "scope", "documents:read")["access_token"].(string)
	forged := admin[:len(admin)-4] + "AAAA"
	body := map[string]any{"username": "newbie"}

	for _, c := range []struct {
		name, token string
		status      int
		code        string
		challenge   string
	}{
		{"no credentials", "", 401, "unauthenticated", `Bearer realm="gatehouse"`},
		{"forged token", forged, 401, "invalid_token", `Bearer realm="gatehouse", error="invalid_token"`},
		{"not a token", "nonsense", 401, "invalid_token", `Bearer realm="gatehouse", error="invalid_token"`},
		{"unknown API key", "gk_" + strings.Repeat("0", 49), 401, "invalid_token", `Bearer realm="gatehouse", error="invalid_token"`},
		{"token without the scope", scoped, 403, "insufficient_scope", `Bearer realm="gatehouse", error="insufficient_scope", scope="users:manage"`},
		{"user without the permission", viewer, 403, "permission_denied", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.api("POST", "/api/v1/users", c.token, body)
			wantProblem(t, r, c.status, c.code)
			if got := strings.Join(r.Header.Values("WWW-Authenticate"), " | "); got != c.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.challenge)
			}
		})
	}
}

// TestReadOnlyCommandsNeedADatabase covers SPEC §14: doctor and audit on a
// data dir without a database fail, say what to do, and create nothing;
// migrate still creates it.
func TestReadOnlyCommandsNeedADatabase(t *testing.T) {
	parent := t.TempDir()
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(parent, "missing"), empty} {
		s := &testServer{t: t, env: map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_LOG_LEVEL": "warn"}}
		for _, args := range [][]string{{"doctor"}, {"audit", "verify"}, {"audit", "tail"}, {"audit", "export"}} {
			code, out, errOut := s.cli(args...)
			if code != 1 || !strings.Contains(out+errOut, "no Gatehouse database at "+filepath.Join(dir, store.SQLiteFile)) ||
				!strings.Contains(out+errOut, "gatehouse migrate") || strings.Contains(out, "intact") {
				t.Errorf("%v in %s: exit %d\n%s%s", args, dir, code, out, errOut)
			}
		}
		if dir == empty {
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%s now holds %v", dir, entries)
			}
		} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s was created (%v)", dir, err)
		}
		if code, out, errOut := s.cli("migrate"); code != 0 {
			t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := s.cli("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Errorf("audit verify after migrate: exit %d\n%s%s", code, out, errOut)
		}
	}
}
