// Package store is the database/sql implementation of every domain Store
// (user, rbac, oauth, audit) on SQLite (single node) and PostgreSQL
// (cluster), with embedded goose migrations per engine.
//
// Design in brief:
//   - SQL is written once with PostgreSQL-style $n placeholders. The SQLite
//     driver (modernc.org/sqlite) binds a parameter named $n to the n-th
//     argument (see its argFinder), so no rebinding of SQL text is needed.
//     The few statements that truly differ (JSON aggregation, JSON
//     containment, row and advisory locks) are written out twice in dialect.go.
//   - Times are stored with microsecond precision on both engines: PostgreSQL
//     timestamptz, SQLite INTEGER unix microseconds. Every time comes back in
//     UTC, truncated to the microsecond, identically on both engines.
//   - SQLite uses two pools on one WAL file: a single-connection writer whose
//     transactions BEGIN IMMEDIATE (every write and every InTx), and a small
//     read-only pool for reads outside a transaction. Each SQLite pool keeps
//     its statements prepared (stmtCache); pgx does the same per connection
//     on PostgreSQL, which uses one pool.
//   - Transactions travel in the context (InTx); every method runs on the
//     context's transaction when there is one.
//   - Driver errors never escape: no rows become NotFound, unique violations
//     Conflict with the domain's code, an unreachable or busy database
//     Unavailable, anything else Internal (with the driver error as cause).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/user"
)

// The domain stores this package implements.
var (
	_ user.Store  = (*Store)(nil)
	_ rbac.Store  = (*Store)(nil)
	_ oauth.Store = (*Store)(nil)
	_ audit.Store = (*Store)(nil)
)

// The engines Store.Engine reports.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// SQLiteFile is the name of the SQLite database inside the data dir.
const SQLiteFile = "gatehouse.db"

// Options says which database to open.
type Options struct {
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or
	// postgresql://; "" selects SQLite. Anything else is refused.
	DatabaseURL string
	// DataDir holds the SQLite file (DataDir/gatehouse.db); it is created
	// with mode 0700 when missing.
	DataDir string
	// SQLitePath, when set, is the SQLite file to use instead (tests).
	SQLitePath string
}

// Store implements user.Store, rbac.Store, oauth.Store and audit.Store. It is
// safe for concurrent use.
type Store struct {
	d *dialect
	w *sql.DB // writer: every write and every transaction (the one pool on PostgreSQL)
	r *sql.DB // reader: reads outside a transaction (the same pool on PostgreSQL)

	wstmts *stmtCache // prepared statements of w; nil when not used
	rstmts *stmtCache // prepared statements of r; nil when not used

	// wq gives writers turns (on SQLite at the one writer connection)
	// and commits their transactions in groups (writer.go).
	wq *writer
	// wal syncs the writer's commits after its turn passed on and holds
	// their acknowledgements until then (walsync.go); nil on PostgreSQL.
	wal *walSyncer
	// stop ends the background checkpointer (SQLite).
	stop chan struct{}
	done chan struct{}
}

// Open connects to the database o names and checks that it answers. It does
// not migrate: call Migrate. Errors are Internal for bad options and
// Unavailable when the database cannot be reached.
func Open(ctx context.Context, o Options) (*Store, error) {
	switch {
	case strings.HasPrefix(o.DatabaseURL, "postgres://"), strings.HasPrefix(o.DatabaseURL, "postgresql://"):
		return openPostgres(ctx, o.DatabaseURL)
	case o.DatabaseURL != "":
		return nil, apperr.Internal(errors.New("store: GATEHOUSE_DATABASE_URL must start with postgres:// or postgresql://"))
	}
	path := o.SQLitePath
	if path == "" {
		if o.DataDir == "" {
			return nil, apperr.Internal(errors.New("store: no data dir for the SQLite database"))
		}
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, apperr.Internal(fmt.Errorf("store: create data dir: %w", err))
		}
		path = filepath.Join(o.DataDir, SQLiteFile)
	}
	return openSQLite(ctx, path)
}

// sqlitePragmas apply to every connection. busy_timeout only matters when
// another process (a CLI command) holds the write lock: in-process writers
// share the single writer connection.
//
// Every transaction whose InTx returned survives a power loss. The writer
// commits with synchronous=NORMAL, which appends to the WAL without syncing
// it, and the WAL syncer (walsync.go) syncs it before InTx returns, once for
// every commit appended meanwhile; group commit (writer.go) already shares
// one COMMIT among a group's transactions (decisions.md #20, #22). The
// readers keep synchronous=FULL for the checkpoints they run: the WAL is
// synced before its pages are copied, the database after.
const (
	sqlitePragmas    = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"
	sqliteWriterSync = "&_pragma=synchronous(NORMAL)"
	sqliteReaderSync = "&_pragma=synchronous(FULL)"
)

// sqliteAutoCheckpoint lets the WAL grow to this many pages (256 MiB of
// 4 KiB pages) before a commit checkpoints it itself: a safety net, should
// the background checkpointer fall behind; normally it keeps the WAL at
// about a second of writes, off the request path. sqliteWALLimit is the
// size SQLite truncates the WAL file back to after a checkpoint emptied it.
const (
	sqliteAutoCheckpoint = 65536
	sqliteWALLimit       = 256 << 20
)

// sqliteCheckpointEvery is the background checkpointer's interval. Each
// checkpoint copies the pages written since the last one into the database
// and syncs it, which delays the commits that sync at the same moment: once
// a second, with the hot pages of a second copied once, costs commits less
// than ten smaller checkpoints (docs/benchmarks.md).
const sqliteCheckpointEvery = time.Second

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, apperr.Internal(fmt.Errorf("store: SQLite path %q must not contain ? or #", path))
	}
	// Create the file ourselves so it (and the -wal and -shm files SQLite
	// derives from it) is private to this user.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the path is the operator's configuration, not request input
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("store: create SQLite file: %w", err))
	}
	if err := f.Close(); err != nil {
		return nil, apperr.Internal(fmt.Errorf("store: create SQLite file: %w", err))
	}
	// WAL is persistent in the file, so setting it on the writer suffices;
	// _txlock=immediate makes every BeginTx take the write lock at once, so a
	// transaction's reads see the state its writes build on. The writer
	// keeps 4 MiB of pages (8 MiB was no faster, docs/benchmarks.md).
	w, err := sql.Open("sqlite", path+"?"+sqlitePragmas+sqliteWriterSync+"&_pragma=journal_mode(WAL)&_txlock=immediate"+
		"&_pragma=wal_autocheckpoint("+strconv.Itoa(sqliteAutoCheckpoint)+")&_pragma=journal_size_limit("+strconv.Itoa(sqliteWALLimit)+
		")&_pragma=cache_size(-4096)")
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("store: open SQLite: %w", err))
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, unavailable(fmt.Errorf("store: open SQLite %s: %w", path, err))
	}
	// Readers keep 1 MiB of pages each (SQLite's default is 2 MiB): the
	// operating system caches the file as well, and the four readers' caches
	// were a tenth of the server's peak memory under load.
	r, err := sql.Open("sqlite", path+"?"+sqlitePragmas+sqliteReaderSync+"&_pragma=query_only(1)&_pragma=cache_size(-1024)")
	if err != nil {
		_ = w.Close()
		return nil, apperr.Internal(fmt.Errorf("store: open SQLite: %w", err))
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, unavailable(fmt.Errorf("store: open SQLite %s: %w", path, err))
	}
	wal, err := newWALSyncer(path)
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, apperr.Internal(err)
	}
	st := &Store{d: sqliteDialect, w: w, r: r, wstmts: newStmtCache(w), rstmts: newStmtCache(r),
		wq: &writer{}, wal: wal, stop: make(chan struct{}), done: make(chan struct{})}
	wal.idle = st.syncIdle
	// A transaction cannot prepare on the writer it holds: prepare the
	// statements every grouped transaction runs now, while it is free.
	st.wstmts.prepare(ctx, []string{savepoint, releaseSavepoint, rollbackSavepoint})
	go st.checkpoint(sqliteCheckpointEvery) // #nosec G118 -- lives as long as the store, not the context of Open
	return st, nil
}

// checkpoint copies the WAL into the database every interval (PASSIVE: it
// never blocks readers or the writer), so commits do not pay for it.
func (s *Store) checkpoint(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := s.r.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			cancel()
			if err != nil {
				slog.Debug("store: background checkpoint failed", "err", err)
			}
		}
	}
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL and its password: keep it out.
		return nil, apperr.Internal(errors.New("store: GATEHOUSE_DATABASE_URL is not a valid PostgreSQL URL"))
	}
	// pgx caches a prepared statement per connection for every query text
	// (QueryExecModeCacheStatement), so no statement cache of our own here.
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour) // let connections follow failovers and pooler changes
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, unavailable(fmt.Errorf("store: connect to PostgreSQL: %w", err))
	}
	return &Store{d: postgresDialect, w: db, r: db, wq: &writer{}}, nil
}

// Engine returns EngineSQLite or EnginePostgres.
func (s *Store) Engine() string { return s.d.engine }

// Ping checks that the database answers (for /readyz and fail-closed
// checks); Unavailable when it does not. On SQLite it asks the reader pool,
// so it never waits behind a long write transaction holding the writer.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return unavailable(err)
	}
	if s.wal != nil {
		if err := s.wal.failed(); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// Close closes every connection. The store must not be used afterwards.
func (s *Store) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	var err error
	if s.wal != nil {
		// The syncer syncs what is pending first; SQLite deletes the WAL
		// when the last connection closes.
		err = s.wal.close()
	}
	s.wstmts.close()
	s.rstmts.close()
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return apperr.Internal(err)
	}
	return nil
}
