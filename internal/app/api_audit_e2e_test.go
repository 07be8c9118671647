package app_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return ts
}

// TestAuditAPI covers GET /api/v1/audit (filters, paging, the hash chain,
// request facts) and the JSON-lines export.
func TestAuditAPI(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			adminID := s.api("GET", "/api/v1/me", admin, nil).JSON(t)["id"].(string)
			u := s.createUser(admin, map[string]any{"username": "ursula", "password": userPassword})
			id := u["id"].(string)
			want(t, s.form("/oauth2/token", "", passwordForm("ursula", "not the password")), http.StatusBadRequest)
			want(t, s.api("POST", "/api/v1/users/"+id+"/disable", admin, nil), http.StatusOK)
			want(t, s.api("POST", "/api/v1/users/"+id+"/enable", admin, nil), http.StatusOK)
			viewer := s.login("ursula", userPassword)["access_token"].(string)

			all := s.audit(admin, "limit=500")
			if len(all) < 10 {
				t.Fatalf("only %d events", len(all))
			}
			for i, e := range all {
				if !hexHash.MatchString(e["hash"].(string)) {
					t.Errorf("event %v: hash %q", e["seq"], e["hash"])
				}
				if i+1 < len(all) && e["prev_hash"] != all[i+1]["hash"] {
					t.Errorf("event %v: prev_hash does not link to event %v", e["seq"], all[i+1]["seq"])
				}
				if e["actor"].(map[string]any)["type"] == "user" && (e["request_id"] == "" || e["ip"] != "127.0.0.1") {
					t.Errorf("event of a request lacks its request id or ip: %v", e)
				}
				for _, k := range []string{"id", "time", "actor", "action", "target", "outcome", "reason", "ip", "user_agent", "request_id", "metadata", "prev_hash", "hash"} {
					if _, ok := e[k]; !ok {
						t.Errorf("event lacks %s: %v", k, e)
					}
				}
			}
			if all[len(all)-1]["prev_hash"] != "" {
				t.Errorf("the first event has prev_hash %v", all[len(all)-1]["prev_hash"])
			}

			// Every filter returns only matching events, and some.
			for _, c := range []struct {
				name, query string
				match       func(e map[string]any) bool
			}{
				{"action", "action=user.created", func(e map[string]any) bool { return e["action"] == "user.created" }},
				{"action prefix", "action=user.*", func(e map[string]any) bool { return strings.HasPrefix(e["action"].(string), "user.") }},
				{"actor", "actor_id=" + adminID, func(e map[string]any) bool { return e["actor"].(map[string]any)["id"] == adminID }},
				{"target", "target_id=" + id, func(e map[string]any) bool { return e["target"].(map[string]any)["id"] == id }},
				{"outcome", "outcome=failure", func(e map[string]any) bool { return e["outcome"] == "failure" }},
				{"combined", "action=auth.login&outcome=success&target_id=" + id, func(e map[string]any) bool {
					return e["action"] == "auth.login" && e["outcome"] == "success" && e["target"].(map[string]any)["id"] == id
				}},
				{"since", "since=2000-01-01T00:00:00Z", func(map[string]any) bool { return true }},
			} {
				t.Run(c.name, func(t *testing.T) {
					got := s.audit(admin, c.query)
					if len(got) == 0 {
						t.Fatal("no events")
					}
					for _, e := range got {
						if !c.match(e) {
							t.Errorf("event does not match: %v", e)
						}
					}
				})
			}
			future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
			for _, q := range []string{"until=2000-01-01T00:00:00Z", "since=" + future, "action=nothing.here", "actor_id=usr_nope"} {
				if got := s.audit(admin, q); len(got) != 0 {
					t.Errorf("?%s: %d events, want none", q, len(got))
				}
			}
			mid := all[len(all)/2]
			since := parseTime(t, mid["time"])
			after := s.audit(admin, "limit=500&since="+url.QueryEscape(since.Format(time.RFC3339Nano)))
			for _, e := range after {
				if parseTime(t, e["time"]).Before(since) {
					t.Errorf("since %v returned the older event %v", mid["time"], e["time"])
				}
			}
			if len(after) == 0 || len(after) == len(all) {
				t.Errorf("since the middle event: %d of %d events", len(after), len(all))
			}
			for _, q := range []string{"outcome=bogus", "since=yesterday", "limit=0", "limit=501", "cursor=abc", "cursor=-1", "action=" + strings.Repeat("a", 129)} {
				if r := s.api("GET", "/api/v1/audit?"+q, admin, nil); r.Status != http.StatusUnprocessableEntity {
					t.Errorf("?%s: %d, want 422", q, r.Status)
				}
			}

			// Paging with limit and cursor walks the same events, newest first.
			var paged []string
			path := "/api/v1/audit?limit=3"
			for range len(all) {
				m := s.api("GET", path, admin, nil).JSON(t)
				for _, it := range m["items"].([]any) {
					paged = append(paged, it.(map[string]any)["id"].(string))
				}
				next, ok := m["next_cursor"].(string)
				if !ok {
					break
				}
				path = "/api/v1/audit?limit=3&cursor=" + next
			}
			var ids []string
			for _, e := range all {
				ids = append(ids, e["id"].(string))
			}
			if !slices.Equal(paged, ids) {
				t.Errorf("paging returned %d events, the full list %d; they differ", len(paged), len(ids))
			}

			// Export: JSON lines, oldest first, with the same events.
			r := s.api("GET", "/api/v1/audit/export", admin, nil)
			want(t, r, http.StatusOK)
			if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("export content type %q", ct)
			}
			var exported []string
			sc := bufio.NewScanner(bytes.NewReader(r.Body))
			for sc.Scan() {
				var e map[string]any
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("export line is not JSON: %q", sc.Text())
				}
				exported = append(exported, e["id"].(string))
			}
			slices.Reverse(exported)
			if len(exported) < len(ids) || !slices.Equal(exported[len(exported)-len(ids):], ids) {
				t.Errorf("export has %d events, the list %d; they differ", len(exported), len(ids))
			}
			r = s.api("GET", "/api/v1/audit/export?action=user.created", admin, nil)
			if n := bytes.Count(r.Body, []byte("\n")); n != 2 || bytes.Count(r.Body, []byte(`"user.created"`)) != 2 {
				t.Errorf("filtered export: %s", r.Body)
			}

			wantProblem(t, s.api("GET", "/api/v1/audit", viewer, nil), http.StatusForbidden, "permission_denied")
			wantProblem(t, s.api("GET", "/api/v1/audit/export", viewer, nil), http.StatusForbidden, "permission_denied")
		})
	}
}

// TestFailClosed covers SPEC §15: with the database unreachable, the token
// endpoint and /readyz answer 503, never a token. PostgreSQL only: there the
// database can be taken away from a running server.
func TestFailClosed(t *testing.T) {
	if os.Getenv("GATEHOUSE_TEST_DATABASE_URL") == "" {
		engines(t) // fails when PostgreSQL is required
		t.Skip("needs PostgreSQL (GATEHOUSE_TEST_DATABASE_URL)")
	}
	s := startServer(t, "postgres", nil)
	want(t, s.form("/oauth2/token", "", passwordForm("admin", adminPassword)), http.StatusOK)

	u, err := url.Parse(s.env["GATEHOUSE_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	db, err := sql.Open("pgx", os.Getenv("GATEHOUSE_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	// Registered after startServer, so it runs before the server stops and the database is dropped.
	t.Cleanup(func() {
		if _, err := db.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"); err != nil {
			t.Errorf("restore connections: %v", err)
		}
	})
	if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		t.Fatal(err)
	}

	for range 3 {
		r := s.form("/oauth2/token", "", passwordForm("admin", adminPassword))
		if r.Status != http.StatusServiceUnavailable || bytes.Contains(r.Body, []byte("access_token")) {
			t.Fatalf("token endpoint without a database: %d %s", r.Status, r.Body)
		}
		if e := r.JSON(t)["error"]; e != "temporarily_unavailable" || r.Header.Get("Retry-After") == "" {
			t.Errorf("error %v, Retry-After %q", e, r.Header.Get("Retry-After"))
		}
	}
	if r := s.api("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz without a database: %d %s", r.Status, r.Body)
	}
	if r := s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}); r.Status != http.StatusServiceUnavailable {
		t.Errorf("refresh without a database: %d %s", r.Status, r.Body)
	}
}
