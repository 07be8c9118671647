package store

import (
	"context"
	"database/sql"
	"slices"
	"sync"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// txKey is the context key of the transaction InTx carries.
type txKey struct{}

// txState is what InTx puts in the context.
type txState struct {
	owner *Store
	tx    *sql.Tx
	// wanted collects statements run in this transaction that the writer's
	// cache has not prepared yet; InTx prepares them once the transaction
	// has released the writer connection.
	wanted []string
	// head caches the audit chain's head as this transaction last read or
	// advanced it (the transaction holds its lock): the events of a group
	// then read it once.
	head *audit.Head
	// One database transaction carries a group of InTx calls (writer.go),
	// and the head row is written once, when the group commits: stored is
	// the head as the row holds it (read at the group's first AuditHead),
	// kept the head as of the group's last member that succeeded, which an
	// undone member's work falls back to.
	stored, kept *audit.Head
}

// InTx runs fn in one transaction, carried by the context fn receives, and
// commits when fn returns nil. It rolls back when fn returns an error (which
// it returns as is) or panics (and lets the panic continue). Called with a
// context already in one of this store's transactions, it joins it: fn runs
// in the outer transaction, which alone commits or rolls back.
//
// Transactions take turns at the writer and may be committed together with
// the transactions that queued behind them (writer.go; on SQLite the turn
// holds the single writer connection from BEGIN IMMEDIATE): inside fn, call
// the store only with the context fn receives, or a write would wait for
// the turn fn holds. Errors of beginning or committing are Unavailable or
// Internal.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	return s.inGroup(ctx, fn)
}

// txFrom returns this store's transaction state carried by ctx, if any.
func (s *Store) txFrom(ctx context.Context) *txState {
	st, _ := ctx.Value(txKey{}).(*txState)
	if st == nil || st.owner != s {
		return nil
	}
	return st
}

// inTx reports whether ctx carries one of this store's transactions.
func (s *Store) inTx(ctx context.Context) bool { return s.txFrom(ctx) != nil }

// runner runs statements on a transaction or a pool, with prepared
// statements from a cache when it has one.
type runner struct {
	st    *txState
	db    *sql.DB
	cache *stmtCache
	// group is set for single writes outside a transaction: they take
	// their turn at the writer like a transaction (writer.go).
	group *Store
	// reader is set for reads on SQLite's reader pool, which note the
	// newest commit they could have seen for WaitReads (walsync.go).
	reader *Store
}

// rd returns where a read runs: the context's transaction, else the reader pool.
func (s *Store) rd(ctx context.Context) runner {
	if st := s.txFrom(ctx); st != nil {
		return runner{st: st, cache: s.wstmts}
	}
	if s.wal != nil {
		return runner{db: s.r, cache: s.rstmts, reader: s}
	}
	return runner{db: s.r, cache: s.rstmts}
}

// wr returns where a write runs: the context's transaction, else its own
// turn at the writer.
func (s *Store) wr(ctx context.Context) runner {
	if st := s.txFrom(ctx); st != nil {
		return runner{st: st, cache: s.wstmts}
	}
	return runner{db: s.w, cache: s.wstmts, group: s}
}

// stmt returns the statement to run q with, or nil to run q unprepared.
func (r runner) stmt(ctx context.Context, q string) *sql.Stmt {
	if r.cache == nil {
		return nil
	}
	if r.st == nil {
		return r.cache.get(ctx, q)
	}
	// Preparing on the pool here would wait for the connection this very
	// transaction holds (SQLite's writer has one): use a statement prepared
	// earlier, else remember q for after the commit.
	if ps := r.cache.lookup(q); ps != nil {
		return r.st.tx.StmtContext(ctx, ps)
	}
	if len(r.st.wanted) < maxCachedStmts && !slices.Contains(r.st.wanted, q) {
		r.st.wanted = append(r.st.wanted, q)
	}
	return nil
}

func (r runner) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	if r.group != nil {
		err = r.group.InTx(ctx, func(ctx context.Context) error {
			res, err = r.group.wr(ctx).exec(ctx, q, args...)
			return err
		})
		return res, err
	}
	ctx = r.stmtCtx(ctx)
	if ps := r.stmt(ctx, q); ps != nil {
		return ps.ExecContext(ctx, args...)
	}
	if r.st != nil {
		return r.st.tx.ExecContext(ctx, q, args...)
	}
	return r.db.ExecContext(ctx, q, args...)
}

// query and queryRow outside a transaction are reads, or on PostgreSQL
// single writes: a write returning rows on SQLite must run inside InTx.
func (r runner) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	ctx = r.stmtCtx(ctx)
	if r.reader != nil {
		// The driver runs the statement's first step, which fixes what the
		// read sees, before QueryContext returns.
		defer r.reader.markRead(ctx)
	}
	if ps := r.stmt(ctx, q); ps != nil {
		return ps.QueryContext(ctx, args...)
	}
	if r.st != nil {
		return r.st.tx.QueryContext(ctx, q, args...)
	}
	return r.db.QueryContext(ctx, q, args...)
}

func (r runner) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = r.stmtCtx(ctx)
	if r.st == nil && r.cache != nil && ctx.Err() == nil {
		// A single-row read on SQLite's reader pool takes microseconds:
		// without a cancellable context the driver starts no goroutine to
		// watch it (it starts one per statement otherwise, which under load
		// competes with the writer for the CPU). A context already ended
		// still fails at once.
		ctx = context.WithoutCancel(ctx)
	}
	if r.reader != nil {
		defer r.reader.markRead(ctx) // see query
	}
	if ps := r.stmt(ctx, q); ps != nil {
		return ps.QueryRowContext(ctx, args...)
	}
	if r.st != nil {
		return r.st.tx.QueryRowContext(ctx, q, args...)
	}
	return r.db.QueryRowContext(ctx, q, args...)
}

// maxCachedStmts bounds the cache: queries built from filters vary, and
// past this many distinct texts the rest simply run unprepared.
const maxCachedStmts = 256

// stmtCache holds prepared statements of one SQLite pool, by query text.
// Preparing costs SQLite a parse and plan per execution otherwise
// (BenchmarkRefreshRotation measures the difference). PostgreSQL does not
// use it: pgx already caches prepared statements per connection.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.RLock()
	ps := c.m[q]
	c.mu.RUnlock()
	return ps
}

// get returns the prepared statement of q, preparing it when needed; nil
// when it cannot (the caller then runs q unprepared and sees any error).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if ps := c.lookup(q); ps != nil {
		return ps
	}
	c.mu.RLock()
	full := len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	// Prepare without holding the lock: preparing may wait for a connection
	// that a transaction holds, and that transaction may need lookup.
	ps, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil {
		_ = ps.Close()
		return old
	}
	c.m[q] = ps
	return ps
}

// prepare prepares every statement of qs not cached yet.
func (c *stmtCache) prepare(ctx context.Context, qs []string) {
	for _, q := range qs {
		c.get(ctx, q)
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, ps := range c.m {
		_ = ps.Close()
		delete(c.m, q)
	}
}
