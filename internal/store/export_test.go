package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
)

// MigrateDownTo rolls the schema back to version v, for tests of upgrades
// from it.
func (s *Store) MigrateDownTo(ctx context.Context, v int64) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}

// ExplainListKeys returns the engine's plan of ListKeys(q), one line per node.
func (s *Store) ExplainListKeys(ctx context.Context, q apikey.ListQuery) (string, error) {
	text, a := s.listKeysQuery(q)
	return s.explain(ctx, text, a)
}

// ExplainListClientsPage returns the engine's plan of ListClientsPage.
func (s *Store) ExplainListClientsPage(ctx context.Context, limit int, afterCreated time.Time, afterID string) (string, error) {
	text, a := s.listClientsQuery(limit, afterCreated, afterID)
	return s.explain(ctx, text, a)
}

// explain returns the plan of a statement. On PostgreSQL sequential scans
// are turned off first: the test tables are tiny, and the question is
// whether an index can answer at all.
func (s *Store) explain(ctx context.Context, text string, a args) (string, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	prefix := "EXPLAIN QUERY PLAN "
	if s.d.engine == EnginePostgres {
		prefix = "EXPLAIN "
		if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			return "", err
		}
	}
	rows, err := tx.QueryContext(ctx, prefix+text, a...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		// The plan's text is the last column (SQLite's detail, PostgreSQL's QUERY PLAN).
		switch v := (*vals[len(vals)-1].(*any)).(type) {
		case string:
			lines = append(lines, v)
		case []byte:
			lines = append(lines, string(v))
		}
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// ExecAsAnotherInstance runs q on the database outside the store's writer
// turns, as another process sharing the database would, and returns how
// many rows it changed.
func (s *Store) ExecAsAnotherInstance(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
