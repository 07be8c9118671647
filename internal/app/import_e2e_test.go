package app_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pythonBcrypt is bcrypt.hashpw(b"correct horse battery staple", gensalt(4))
// from Debian's python3-bcrypt 3.2.2: the $2b$ form the seeds' FastAPI stack
// (passlib/bcrypt) writes.
const pythonBcrypt = "$2b$04$leYRiUGYCf19T6uSl1/WmOhrnjbnWMPhGlT3dS1rBJKqCQW5t8l8y"

// htpasswdHash makes a bcrypt hash with Debian's htpasswd (apache2-utils), an
// independent implementation; the test skips without it unless in CI.
func htpasswdHash(t *testing.T, password string) string {
	t.Helper()
	out, err := exec.Command("htpasswd", "-nbB", "-C", "5", "x", password).Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("htpasswd (apache2-utils) is needed in CI: %v", err)
		}
		t.Skipf("htpasswd not installed: %v", err)
	}
	_, hash, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	return hash
}

// TestImport covers `gatehouse user import`: CSV and JSON lines with bcrypt
// and argon2 hashes, roles and groups, dry runs, all-or-nothing and
// --continue, every bad line reported with its number; imported users sign in
// with their old passwords and are rehashed to argon2id.
func TestImport(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			dir := t.TempDir()
			apache := htpasswdHash(t, "apache generated passphrase")
			csv := "username,email,display_name,password_hash,roles,groups,status\n" +
				"ann,ann@example.com,Ann,\"" + apache + "\",reviewer;lead_reviewer,,active\n" +
				"bob,bob@example.com,Bob,\"" + pythonBcrypt + "\",,user,\n" +
				"cat,,Cat,,,,pending\n"
			csvPath := filepath.Join(dir, "users.csv")
			if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := s.cli("user", "import", "--dry-run", csvPath)
			if code != 0 || !strings.Contains(out, "3 user(s) would be imported") {
				t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
			}
			if r := s.loginForm("ann", "apache generated passphrase"); r.Status != http.StatusBadRequest {
				t.Fatal("a dry run must import nothing")
			}
			code, out, errOut = s.cli("user", "import", csvPath)
			if code != 0 || !strings.Contains(out, "imported 3 user(s)") || !strings.Contains(out, "activation token for cat") {
				t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
			}
			ann := s.login("ann", "apache generated passphrase")
			if roles := strSlice(jwtClaims(t, ann["access_token"].(string))["roles"]); !contains(roles, "lead_reviewer") {
				t.Fatalf("ann's roles %v", roles)
			}
			s.login("bob", "correct horse battery staple")
			// Rehashed to argon2id at the first sign-in: the old password still works.
			s.login("bob", "correct horse battery staple")
			if engine == "sqlite" {
				var hash string
				if err := openSQLite(t, s).QueryRow(`SELECT password_hash FROM users WHERE username = 'bob'`).Scan(&hash); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(hash, "$argon2id$") {
					t.Fatalf("bob's hash after sign-in is %.10s…, want argon2id", hash)
				}
			}

			// All or nothing: one bad line imports nobody, and every bad line is named.
			jsonl := `{"username":"dan","password_hash":"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$2QjZ3b2eSN5VyvJ3Bdz9PDXqfJ8T3qRP0qkOaBL7UVQ","roles":["viewer"]}
{"username":"eve","password_hash":"plaintext-password"}
not json at all
{"username":"ann","password_hash":"` + pythonBcrypt + `"}
{"username":"fay","password_hash":"` + pythonBcrypt + `","roles":["emperor"]}
`
			jPath := filepath.Join(dir, "users.jsonl")
			if err := os.WriteFile(jPath, []byte(jsonl), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, _ = s.cli("user", "import", jPath)
			if code != 1 {
				t.Fatalf("a file with bad lines must fail: %d\n%s", code, out)
			}
			for _, wantLine := range []string{"line 2:", "line 3:", "line 4:", "line 5:"} {
				if !strings.Contains(out, wantLine) {
					t.Errorf("the report lacks %q:\n%s", wantLine, out)
				}
			}
			if strings.Contains(out, "line 1:") {
				t.Errorf("line 1 is good:\n%s", out)
			}
			if r := s.api("GET", "/api/v1/users?q=dan", s.admin(), nil).JSON(t); len(r["items"].([]any)) != 0 {
				t.Fatal("all or nothing: dan must not exist")
			}
			code, out, _ = s.cli("user", "import", "--continue", jPath)
			if code != 0 || !strings.Contains(out, "imported 1 user(s); 4 line(s) skipped") {
				t.Fatalf("--continue: %d\n%s", code, out)
			}
			if r := s.api("GET", "/api/v1/users?q=dan", s.admin(), nil).JSON(t); len(r["items"].([]any)) != 1 {
				t.Fatal("--continue must import dan")
			}
			if ev := s.audit(s.admin(), "action=user.imported"); len(ev) != 2 {
				t.Fatalf("want 2 user.imported events, got %d", len(ev))
			}
		})
	}
}

func (s *testServer) loginForm(username, password string) response {
	s.t.Helper()
	return s.form("/oauth2/token", "", passwordForm(username, password))
}
