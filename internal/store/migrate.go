package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// migrations holds the schema of each engine, one timeline per directory
// with the same version numbers (a test checks it).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrationLockID is goose's session advisory lock on PostgreSQL, so that
// instances starting together migrate one at a time.
const migrationLockID int64 = 0x67617465_00000000

func (s *Store) provider() (*goose.Provider, error) {
	sub, err := Migrations(s.d.engine)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.d.engine == EnginePostgres {
		dialect = goose.DialectPostgres
		// Poll every second, for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// The provider borrows the writer; never Close it (that closes the pool).
	return goose.NewProvider(dialect, s.w, sub, opts...)
}

// Migrate applies every pending migration of the engine's embedded
// timeline. On PostgreSQL concurrent callers wait for each other.
// Errors are Unavailable or Internal.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return apperr.Internal(fmt.Errorf("store: migrations: %w", err))
	}
	if _, err := p.Up(ctx); err != nil {
		return s.mapErr(fmt.Errorf("store: migrate: %w", err))
	}
	if s.wal != nil {
		// goose commits on the writer connection, outside the writer's
		// turn: sync what it wrote before the server answers anyone.
		return s.wal.syncNow()
	}
	return nil
}

// SchemaVersion returns the version the database is at and the latest
// version this binary knows (for doctor and readiness checks).
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, apperr.Internal(fmt.Errorf("store: migrations: %w", err))
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, s.mapErr(fmt.Errorf("store: schema version: %w", err))
	}
	return current, latest, nil
}

// Migrations returns the embedded migration files of engine (EngineSQLite
// or EnginePostgres), for tests and tools that inspect the schema.
func Migrations(engine string) (fs.FS, error) {
	if engine != EngineSQLite && engine != EnginePostgres {
		return nil, apperr.Internal(fmt.Errorf("store: unknown engine %q", engine))
	}
	return fs.Sub(migrations, "migrations/"+engine)
}
