package store_test

import (
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	engines := storetest.Engines(t)
	for _, name := range []string{store.EngineSQLite, store.EnginePostgres} {
		t.Run(name, func(t *testing.T) {
			newStore, ok := engines[name]
			if !ok {
				t.Skipf("set %s to run the suite on PostgreSQL", storetest.EnvDatabaseURL)
			}
			storetest.Run(t, newStore)
		})
	}
}

var migrationName = regexp.MustCompile(`^(\d+)_[a-z0-9_]+\.sql$`)

// migrationVersions returns the version numbers of an engine's timeline,
// checking each file's name and goose annotations.
func migrationVersions(t *testing.T, engine string) []int64 {
	t.Helper()
	fsys, err := store.Migrations(engine)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Fatalf("%s migration %q: name is not NNNNN_name.sql", engine, e.Name())
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		versions = append(versions, v)
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, ann := range []string{"-- +goose Up", "-- +goose Down"} {
			if !strings.Contains(string(b), ann) {
				t.Errorf("%s migration %s lacks %q", engine, e.Name(), ann)
			}
		}
	}
	slices.Sort(versions)
	return versions
}

func TestMigrationTimelinesMatch(t *testing.T) {
	lite := migrationVersions(t, store.EngineSQLite)
	pg := migrationVersions(t, store.EnginePostgres)
	if len(lite) == 0 {
		t.Fatal("no migrations")
	}
	if d := cmp.Diff(lite, pg); d != "" {
		t.Fatalf("SQLite and PostgreSQL migration versions differ (-sqlite +postgres):\n%s", d)
	}
}

func TestOpenSQLiteDataDir(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Engine() != store.EngineSQLite {
		t.Fatalf("Engine() = %q", s.Engine())
	}
	if err := s.CreateRole(ctx, rbac.Role{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, store.SQLiteFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", path, fi.Mode(), want)
		}
	}
	// Data survives a reopen; migrating again is a no-op.
	s, err = store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	roles, err := s.ListRoles(ctx)
	if err != nil || len(roles) != 1 {
		t.Fatalf("ListRoles after reopen = %v, %v", roles, err)
	}
	var mode string
	if err := rawSQLite(t, filepath.Join(dir, store.SQLiteFile)).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    store.Options
		kind apperr.Kind
	}{
		{"no location", store.Options{}, apperr.KindInternal},
		{"unknown scheme", store.Options{DatabaseURL: "mysql://localhost/x"}, apperr.KindInternal},
		{"bad postgres url", store.Options{DatabaseURL: "postgres://user:secret@[::1/x"}, apperr.KindInternal},
		{"postgres unreachable", store.Options{DatabaseURL: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, apperr.KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tc.o)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if apperr.KindOf(err) != tc.kind {
				t.Fatalf("Open = %v, want kind %v", err, tc.kind)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error reveals the password: %v", err)
			}
		})
	}
}

// TestSQLiteDollarPlaceholders pins the driver behaviour the package's SQL
// relies on: modernc.org/sqlite binds $n to the n-th argument, whatever the
// order and however often $n appears.
func TestSQLiteDollarPlaceholders(t *testing.T) {
	db := rawSQLite(t, filepath.Join(t.TempDir(), "x.db"))
	var a, b, c string
	if err := db.QueryRow("SELECT $2, $1, $2 || $1", "one", "two").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if a != "two" || b != "one" || c != "twoone" {
		t.Fatalf("got %q %q %q", a, b, c)
	}
}

func rawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
