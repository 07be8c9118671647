package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" driver, to tamper with the file

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// openSQLite opens the SQLite file of a (stopped) test server for tampering.
func openSQLite(t *testing.T, s *testServer) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(s.env["GATEHOUSE_DATA_DIR"], store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// lastEvent reads the newest audit event through the store.
func lastEvent(t *testing.T, s *testServer) *audit.Event {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{DataDir: s.env["GATEHOUSE_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var last *audit.Event
	if err := st.ScanAudit(t.Context(), 0, func(e *audit.Event) error { last = e; return nil }); err != nil {
		t.Fatal(err)
	}
	return last
}

// forgedAfter returns a well-formed event chained to last, as a forger with
// write access to the database (but not the master key, so not the audit
// chain key) would make it.
func forgedAfter(t *testing.T, last *audit.Event) *audit.Event {
	t.Helper()
	e := &audit.Event{ID: "evt_forged", Seq: last.Seq + 1, Time: time.Now().UTC().Truncate(time.Microsecond),
		Actor: audit.Ref{Type: "user", ID: "usr_forger"}, Action: "user.created", Target: audit.Ref{Type: "user", ID: "usr_ghost"},
		Outcome: audit.OutcomeSuccess, PrevHash: last.Hash}
	var err error
	if e.Hash, err = audit.ChainHash(secret.RandomBytes(32), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAuditVerifyDetectsTampering covers SPEC §10: `gatehouse audit verify`
// exits 0 on an intact chain and 1 after an edit, a deletion or an insertion
// made directly in the database, naming the event.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, s *testServer, db *sql.DB) string // returns what the output must name
		reason string
	}{
		{"edited reason", func(t *testing.T, s *testServer, db *sql.DB) string {
			var id string
			if err := db.QueryRow(`SELECT id FROM audit_events WHERE seq = 4`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`UPDATE audit_events SET reason = 'nothing to see' WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
			return id
		}, "edited"},
		{"deleted middle event", func(t *testing.T, s *testServer, db *sql.DB) string {
			var next string
			if err := db.QueryRow(`SELECT id FROM audit_events WHERE seq = 5`).Scan(&next); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`DELETE FROM audit_events WHERE seq = 4`); err != nil {
				t.Fatal(err)
			}
			return next
		}, "deleted"},
		{"deleted tail, head moved back", func(t *testing.T, s *testServer, db *sql.DB) string {
			// The newest two events go, and the head is rewritten to the
			// last one left, as it would have been had they never happened.
			var last int64
			if err := db.QueryRow(`SELECT max(seq) FROM audit_events`).Scan(&last); err != nil {
				t.Fatal(err)
			}
			var hash string
			if err := db.QueryRow(`SELECT hash FROM audit_events WHERE seq = ?`, last-2).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			execSQL(t, db, `DELETE FROM audit_events WHERE seq >= ?`, last-1)
			execSQL(t, db, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, last-2, hash)
			return fmt.Sprintf("event %d (head)", last-2)
		}, "the head was altered"},
		{"deleted everything, head at 0", func(t *testing.T, s *testServer, db *sql.DB) string {
			execSQL(t, db, `DELETE FROM audit_events`)
			execSQL(t, db, `UPDATE audit_head SET seq = 0, hash = '' WHERE id = 1`)
			return "event 0 (head)"
		}, "the head was altered"},
		{"head MAC blanked", func(t *testing.T, s *testServer, db *sql.DB) string {
			var seq int64
			if err := db.QueryRow(`SELECT seq FROM audit_head`).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			execSQL(t, db, `UPDATE audit_head SET mac = '' WHERE id = 1`)
			return fmt.Sprintf("event %d (head)", seq)
		}, "carries no MAC although event 1 authenticated it"},
		{"inserted event", func(t *testing.T, s *testServer, db *sql.DB) string {
			e := forgedAfter(t, lastEvent(t, s))
			if _, err := db.Exec(`INSERT INTO audit_events (id, seq, time, actor_type, actor_id, action, target_type, target_id, outcome, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Seq, e.Time.UnixMicro(), e.Actor.Type, e.Actor.ID, e.Action,
				e.Target.Type, e.Target.ID, e.Outcome, e.PrevHash, e.Hash); err != nil {
				t.Fatal(err)
			}
			return "head"
		}, "chain head"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, "sqlite", nil)
			admin := s.admin()
			s.createUser(admin, map[string]any{"username": "tess"})
			want(t, s.form("/oauth2/token", "", passwordForm("tess", "not the password")), http.StatusBadRequest)
			code, out, errOut := s.cli("audit", "verify")
			if code != 0 || !strings.Contains(out, "audit chain intact") || !regexp.MustCompile(`\nhead: seq \d+ hash [0-9a-f]{64}\n`).MatchString(out) ||
				strings.Contains(errOut, "warning") {
				t.Fatalf("intact chain: exit %d, want 0 printing the head and no warning\n%s%s", code, out, errOut)
			}
			s.stop()
			named := c.tamper(t, s, openSQLite(t, s))
			code, out, errOut = s.cli("audit", "verify")
			if code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, named) || !strings.Contains(out, c.reason) {
				t.Fatalf("after tampering: exit %d, want 1 naming %s (%s):\n%s%s", code, named, c.reason, out, errOut)
			}
			if code, out, _ := s.cli("doctor"); code != 1 || !strings.Contains(out, "audit chain broken") {
				t.Errorf("doctor after tampering: exit %d\n%s", code, out)
			}
		})
	}
}

// TestAuditVerifyForgedTail: a forger with database write access who appends
// a chained event and moves the head along is still detected, because the
// chain is an HMAC under a key sealed with the master key.
func TestAuditVerifyForgedTail(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.stop()
	e := forgedAfter(t, lastEvent(t, s))
	st, err := store.Open(t.Context(), store.Options{DataDir: s.env["GATEHOUSE_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	err = st.InTx(t.Context(), func(ctx context.Context) error {
		if _, err := st.AuditHead(ctx); err != nil {
			return err
		}
		mac, err := audit.HeadMAC(secret.RandomBytes(32), e.Seq, e.Hash)
		if err != nil {
			return err
		}
		return st.InsertAudit(ctx, mac, e)
	})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := s.cli("audit", "verify"); code != 1 {
		t.Fatalf("a forged, correctly chained event passes verification: exit %d\n%s", code, out)
	}
}

// TestAuditVerifyAfterUpgrade: a data dir whose chain was written before the
// head carried a MAC (schema 11) verifies after the upgrade with a warning;
// the next event authenticates the head, after which verify passes without
// the warning and a head whose MAC was blanked fails it.
func TestAuditVerifyAfterUpgrade(t *testing.T) {
	mk := secret.RandomBytes(32)
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_MASTER_KEY": secret.EncodeMasterKey(mk)})
	s.stop()
	db := openSQLite(t, s)
	var sealed string
	if err := db.QueryRow(`SELECT sealed FROM sealed_secrets WHERE name = 'audit_chain_key'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	kr, err := secret.NewKeyring(mk)
	if err != nil {
		t.Fatal(err)
	}
	chainKey, err := kr.Open(sealed, "audit_chain_key")
	if err != nil {
		t.Fatal(err)
	}
	// Back to schema 11, with a chain as that version wrote it: three
	// events and the head row, no MAC.
	migrations, err := store.Migrations(store.EngineSQLite)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 11); err != nil {
		t.Fatalf("migrate down to 11: %v", err)
	}
	execSQL(t, db, `DELETE FROM audit_events`)
	prev := ""
	for i := int64(1); i <= 3; i++ {
		e := &audit.Event{ID: fmt.Sprintf("evt_old%d", i), Seq: i, Time: time.Now().UTC().Truncate(time.Microsecond),
			Actor: audit.Ref{Type: "user", ID: "usr_old"}, Action: "user.updated", Outcome: audit.OutcomeSuccess, PrevHash: prev}
		if e.Hash, err = audit.ChainHash(chainKey, e); err != nil {
			t.Fatal(err)
		}
		execSQL(t, db, `INSERT INTO audit_events (id, seq, time, actor_type, actor_id, action, outcome, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Seq, e.Time.UnixMicro(), e.Actor.Type, e.Actor.ID, e.Action, e.Outcome, e.PrevHash, e.Hash)
		execSQL(t, db, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash)
		prev = e.Hash
	}
	_ = db.Close()

	// The upgraded binary migrates, then verifies: intact, with a warning.
	code, out, errOut := s.cli("audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain intact: 3 events") || !strings.Contains(out, "head: seq 3 hash "+prev) ||
		!strings.Contains(errOut, "warning: the audit chain head carries no MAC") {
		t.Fatalf("verify after the upgrade: exit %d, want 0 with the warning\n%s%s", code, out, errOut)
	}
	if code, out, _ := s.cli("doctor"); !strings.Contains(out, "head carries no MAC") {
		t.Errorf("doctor after the upgrade: exit %d, no warning about the head\n%s", code, out)
	}
	// The next event authenticates the head.
	if code, out, errOut := s.cli("user", "create", "uma"); code != 0 {
		t.Fatalf("user create: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = s.cli("audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain intact: 5 events") || strings.Contains(errOut, "warning") {
		t.Fatalf("verify after the next event: exit %d, want 0 without a warning\n%s%s", code, out, errOut)
	}
	if code, out, _ := s.cli("audit", "tail", "-n", "2"); code != 0 || !strings.Contains(out, audit.ActionHeadAuthenticated) {
		t.Errorf("audit tail after the next event: exit %d, no %s\n%s", code, audit.ActionHeadAuthenticated, out)
	}
	// Blanking the MAC now is detected.
	execSQL(t, openSQLite(t, s), `UPDATE audit_head SET mac = '' WHERE id = 1`)
	code, out, errOut = s.cli("audit", "verify")
	if code != 1 || !strings.Contains(out, "event 5 (head)") || !strings.Contains(out, "carries no MAC although event 4 authenticated it") {
		t.Fatalf("verify with the MAC blanked: exit %d, want 1 naming the head\n%s%s", code, out, errOut)
	}
}

// execSQL runs q on a tampered database.
func execSQL(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestCLI covers the command line of SPEC §14: exit codes, config print
// redaction, doctor, users, clients.
func TestCLI(t *testing.T) {
	mk := secret.EncodeMasterKey(secret.RandomBytes(32))
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_MASTER_KEY": mk})

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{}, 2},
		{[]string{"user"}, 2},
		{[]string{"user", "frobnicate"}, 2},
		{[]string{"audit", "frobnicate"}, 2},
		{[]string{"audit", "verify", "extra"}, 2},
		{[]string{"signing-key"}, 2},
		{[]string{"user", "create"}, 2},
		{[]string{"user", "create", "--no-such-flag", "x"}, 2},
		{[]string{"config", "print", "--no-such-flag"}, 2},
		{[]string{"client", "delete", "gatehouse"}, 1},
		{[]string{"user", "disable", "nobody"}, 1},
	} {
		t.Run(strings.Join(append([]string{"gatehouse"}, c.args...), " "), func(t *testing.T) {
			if code, out, errOut := s.cli(c.args...); code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
		})
	}
	if _, out, _ := s.cli("version"); !strings.HasPrefix(out, "gatehouse ") {
		t.Errorf("version printed %q", out)
	}

	// config print redacts secrets, whether given directly or as _FILE.
	code, out, errOut := s.cli("config", "print")
	if code != 0 || strings.Contains(out+errOut, adminPassword) || strings.Contains(out+errOut, mk) ||
		!strings.Contains(out, "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD=[REDACTED]\n") || !strings.Contains(out, "GATEHOUSE_MASTER_KEY=[REDACTED]\n") {
		t.Errorf("config print: exit %d\n%s%s", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(file, []byte(mk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	viaFile := &testServer{t: t, env: map[string]string{"GATEHOUSE_MASTER_KEY_FILE": file, "GATEHOUSE_DATA_DIR": s.env["GATEHOUSE_DATA_DIR"]}}
	if code, out, errOut := viaFile.cli("config", "print"); code != 0 || strings.Contains(out+errOut, mk) || !strings.Contains(out, "GATEHOUSE_MASTER_KEY=[REDACTED]") {
		t.Errorf("config print with _FILE: exit %d\n%s%s", code, out, errOut)
	}

	// doctor: healthy, but warns about a single admin.
	code, out, errOut = s.cli("doctor")
	if code != 0 || !regexp.MustCompile(`WARN\s+only 1 active admin`).MatchString(out) {
		t.Errorf("doctor: exit %d\n%s%s", code, out, errOut)
	}

	// user create with the password on stdin; the account works over HTTP.
	code, out, errOut = s.cliIn(userPassword+"\n", "user", "create", "--password-stdin", "--email", "carl@example.com", "--roles", "reviewer", "carl")
	if code != 0 || !regexp.MustCompile(`created carl \(usr_\w+\), status active`).MatchString(out) {
		t.Fatalf("user create: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, userPassword) {
		t.Error("user create echoed the password")
	}
	tok := s.login("carl", userPassword)
	if roles := jwtClaims(t, tok["access_token"].(string))["roles"]; !slices.Contains(strSlice(roles), "reviewer") {
		t.Errorf("carl's roles = %v", roles)
	}
	if code, out, errOut := s.cliIn("short\n", "user", "create", "--password-stdin", "weakling"); code != 1 || !strings.Contains(errOut, "password") {
		t.Errorf("weak password: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := s.cliIn(newPassword, "user", "create", "--password-stdin", "CARL"); code != 1 {
		t.Errorf("duplicate username: exit %d", code)
	}
	code, out, _ = s.cli("user", "create", "penny")
	m := regexp.MustCompile(`activation token \(shown once, valid 24h\): (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("pending user: exit %d\n%s", code, out)
	}
	want(t, s.api("POST", "/api/v1/activate", "", map[string]any{"activation_token": m[1], "password": userPassword}), http.StatusNoContent)
	code, out, _ = s.cli("user", "list")
	for _, w := range []string{"admin", "carl", "penny", "reviewer"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("user list lacks %s: exit %d\n%s", w, code, out)
		}
	}

	// The last admin cannot be disabled from the command line either.
	if code, out, errOut := s.cli("user", "disable", "admin"); code != 1 || !strings.Contains(errOut, "last active admin") {
		t.Errorf("disable the last admin: exit %d\n%s%s", code, out, errOut)
	}
	want(t, s.api("GET", "/api/v1/me", s.admin(), nil), http.StatusOK)
	if code, _, _ := s.cli("user", "set-roles", "carl", "admin"); code != 0 {
		t.Fatalf("set-roles: exit %d", code)
	}
	if code, out, _ := s.cli("doctor"); code != 0 || !strings.Contains(out, "2 active admins") || strings.Contains(out, "only 1") {
		t.Errorf("doctor with two admins: exit %d\n%s", code, out)
	}

	// client create prints the secret once, and it works.
	code, out, _ = s.cli("client", "create", "--scopes", "documents:read", "reports")
	cm := regexp.MustCompile(`client_id:\s+(cli_\w+)\nclient_secret:\s+(ghs_\S+)`).FindStringSubmatch(out)
	if code != 0 || cm == nil {
		t.Fatalf("client create: exit %d\n%s", code, out)
	}
	r := s.form("/oauth2/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cm[1]}, "client_secret": {cm[2]}})
	if want(t, r, http.StatusOK); r.JSON(t)["scope"] != "documents:read" {
		t.Errorf("client token: %s", r.Body)
	}
	if code, out, _ := s.cli("client", "list"); code != 0 || !strings.Contains(out, cm[1]) || strings.Contains(out, cm[2]) {
		t.Errorf("client list: exit %d\n%s", code, out)
	}
	if code, out, _ := s.cli("client", "create", "--type", "public", "--grant-types", "password", "web"); code != 0 || strings.Contains(out, "client_secret") {
		t.Errorf("public client: exit %d\n%s", code, out)
	}
}

// TestSigningKeyRotate covers SPEC §5: after `gatehouse signing-key rotate`
// the JWKS holds the old and the new key, new tokens use the new key, and
// tokens signed before the rotation still verify.
func TestSigningKeyRotate(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	before := s.login("admin", adminPassword)
	oldKid := jwtHeader(t, before["access_token"].(string))["kid"].(string)
	kids := func(s *testServer) []string {
		var out []string
		for _, k := range s.api("GET", "/.well-known/jwks.json", "", nil).JSON(t)["keys"].([]any) {
			out = append(out, k.(map[string]any)["kid"].(string))
		}
		return out
	}
	if k := kids(s); len(k) != 2 || !slices.Contains(k, oldKid) {
		t.Fatalf("JWKS before the rotation = %v; want the current and the next key", k)
	}
	code, out, errOut := s.cli("signing-key", "rotate")
	m := regexp.MustCompile(`now signing with key (\S+) `).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] == oldKid {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, errOut)
	}
	newKid := m[1]
	// The running server reloads keys on a timer; a restart picks them up now.
	s.stop()
	s = startWithEnv(t, "sqlite", s.env)
	if k := kids(s); !slices.Contains(k, oldKid) || !slices.Contains(k, newKid) || len(k) != 3 {
		t.Errorf("JWKS after the rotation = %v; want the old %s, the new %s and the next key", k, oldKid, newKid)
	}
	after := s.login("admin", adminPassword)
	if kid := jwtHeader(t, after["access_token"].(string))["kid"]; kid != newKid {
		t.Errorf("new tokens are signed with %v, want %s", kid, newKid)
	}
	want(t, s.api("GET", "/api/v1/me", before["access_token"].(string), nil), http.StatusOK)
	r := s.form("/oauth2/introspect", after["access_token"].(string), url.Values{"token": {before["access_token"].(string)}})
	if want(t, r, http.StatusOK); r.JSON(t)["active"] != true {
		t.Errorf("introspection of a token of the old key: %s", r.Body)
	}
	want(t, s.refresh(before["refresh_token"].(string)), http.StatusOK)
}
