package store

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSQLiteSettings pins what decisions.md #3, #20 and #22 and the memory
// budget rely on: the writer commits in WAL mode without syncing
// (synchronous=NORMAL: the WAL syncer syncs, walsync_internal_test.go), the
// readers' checkpoints sync (FULL), and a commit checkpoints by itself only
// past the safety net; the
// writer keeps 4 MiB of page cache and the readers, read-only, 1 MiB each
// (docs/benchmarks.md).
func TestSQLiteSettings(t *testing.T) {
	s, err := Open(t.Context(), Options{SQLitePath: filepath.Join(t.TempDir(), SQLiteFile)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	type setting struct{ pragma, want string }
	for _, c := range []struct {
		role string
		db   *sql.DB
		want []setting
	}{
		{"writer", s.w, []setting{
			{"synchronous", "1"}, // NORMAL
			{"journal_mode", "wal"},
			{"wal_autocheckpoint", "65536"},
			{"journal_size_limit", "268435456"},
			{"foreign_keys", "1"},
			{"cache_size", "-4096"},
		}},
		{"reader", s.r, []setting{
			{"query_only", "1"},
			{"cache_size", "-1024"},
			{"synchronous", "2"}, // FULL
			{"foreign_keys", "1"},
		}},
	} {
		for _, w := range c.want {
			var got string
			if err := c.db.QueryRowContext(t.Context(), "PRAGMA "+w.pragma).Scan(&got); err != nil {
				t.Fatalf("%s PRAGMA %s: %v", c.role, w.pragma, err)
			}
			if got != w.want {
				t.Errorf("%s PRAGMA %s = %s, want %s", c.role, w.pragma, got, w.want)
			}
		}
	}
}
