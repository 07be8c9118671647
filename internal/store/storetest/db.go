package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/gatehouse/gatehouse/internal/store"
)

// The environment variables that select the PostgreSQL run.
const (
	// EnvDatabaseURL names a PostgreSQL server tests may create databases
	// on, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvDatabaseURL = "GATEHOUSE_TEST_DATABASE_URL"
	// EnvRequirePostgres=1 turns the skip of PostgreSQL tests (when
	// EnvDatabaseURL is unset) into a failure, so CI cannot silently lose them.
	EnvRequirePostgres = "GATEHOUSE_REQUIRE_POSTGRES"
)

// NewSQLite returns a migrated store on a fresh SQLite file in t.TempDir(),
// closed when the test ends.
func NewSQLite(t *testing.T) *store.Store {
	t.Helper()
	return newSQLite(t)
}

// NewPostgres returns a store on a fresh PostgreSQL database cloned from a
// migrated template, dropped when the test ends. Without EnvDatabaseURL it
// skips the test, or fails it when EnvRequirePostgres is 1.
func NewPostgres(t *testing.T) *store.Store {
	t.Helper()
	return newPostgres(t)
}

// Engines returns a constructor of fresh test stores per available engine:
// "sqlite" always, "postgres" when EnvDatabaseURL is set (failing the test
// when EnvRequirePostgres is 1 and it is not).
func Engines(t *testing.T) map[string]func(t *testing.T) *store.Store {
	t.Helper()
	m := map[string]func(t *testing.T) *store.Store{store.EngineSQLite: NewSQLite}
	if postgresURL(t) != "" {
		m[store.EnginePostgres] = NewPostgres
	}
	return m
}

// BenchEngines is Engines for benchmarks.
func BenchEngines(b *testing.B) map[string]func(b *testing.B) *store.Store {
	b.Helper()
	m := map[string]func(b *testing.B) *store.Store{
		store.EngineSQLite: func(b *testing.B) *store.Store { b.Helper(); return newSQLite(b) },
	}
	if postgresURL(b) != "" {
		m[store.EnginePostgres] = func(b *testing.B) *store.Store { b.Helper(); return newPostgres(b) }
	}
	return m
}

func newSQLite(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), store.SQLiteFile)})
	if err != nil {
		t.Fatalf("open SQLite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate SQLite store: %v", err)
	}
	return s
}

func newPostgres(t testing.TB) *store.Store {
	t.Helper()
	base := postgresURL(t)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvDatabaseURL)
	}
	tpl, admin, err := pgTemplate(base)
	if err != nil {
		t.Fatalf("PostgreSQL template database: %v", err)
	}
	name := "gatehouse_test_" + randomHex(8)
	if err := createDatabase(admin, name, tpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	s, err := store.Open(context.Background(), store.Options{DatabaseURL: withDatabase(base, name)})
	if err != nil {
		dropDatabase(admin, name)
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		dropDatabase(admin, name)
	})
	return s
}

// postgresURL returns EnvDatabaseURL, failing t when it is required but unset.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u == "" && os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatalf("%s=1 but %s is not set: set it to a PostgreSQL URL tests may create databases on, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvRequirePostgres, EnvDatabaseURL)
	}
	return u
}

// pg holds the template database of this test binary, built once: a test
// helper's cache across tests, the one place package state is right.
var pg struct {
	once  sync.Once
	tpl   string
	admin *sql.DB
	err   error
}

// pgTemplate returns the name of a migrated template database and a
// connection to base for administration. The template is named after a
// hash of the migrations, so it is built once per schema and reused by
// every later test binary; concurrent builders race safely (build under a
// private name, then rename).
func pgTemplate(base string) (string, *sql.DB, error) {
	pg.once.Do(func() {
		pg.admin, pg.err = sql.Open("pgx", base)
		if pg.err != nil {
			return
		}
		pg.admin.SetMaxOpenConns(4)
		pg.tpl, pg.err = buildTemplate(base, pg.admin)
	})
	return pg.tpl, pg.admin, pg.err
}

func buildTemplate(base string, admin *sql.DB) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := schemaHash()
	if err != nil {
		return "", err
	}
	tpl := "gatehouse_tpl_" + h
	var exists bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return tpl, nil
	}
	build := tpl + "_build_" + randomHex(4)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+build); err != nil {
		return "", err
	}
	s, err := store.Open(ctx, store.Options{DatabaseURL: withDatabase(base, build)})
	if err != nil {
		dropDatabase(admin, build)
		return "", err
	}
	err = s.Migrate(ctx)
	_ = s.Close()
	if err != nil {
		dropDatabase(admin, build)
		return "", err
	}
	if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+build+` RENAME TO `+tpl); err != nil {
		dropDatabase(admin, build)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P04" { // duplicate_database: another binary won
			return tpl, nil
		}
		return "", err
	}
	return tpl, nil
}

// schemaHash identifies the PostgreSQL migrations' content.
func schemaHash() (string, error) {
	fsys, err := store.Migrations(store.EnginePostgres)
	if err != nil {
		return "", err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// createDatabase clones tpl, retrying while another session briefly holds
// the template (SQLSTATE 55006).
func createDatabase(admin *sql.DB, name, tpl string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		_, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tpl)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dropDatabase(admin *sql.DB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
}

// withDatabase returns base with its database replaced by name.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
