package store

import (
	"path/filepath"
	"testing"
)

// TestSQLiteWriterSettings pins what decisions.md #3 and #20 rely on: the
// writer's commits are synced (synchronous=FULL), in WAL mode, and a commit
// checkpoints by itself only past the safety net.
func TestSQLiteWriterSettings(t *testing.T) {
	s, err := Open(t.Context(), Options{SQLitePath: filepath.Join(t.TempDir(), SQLiteFile)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"synchronous", "2"}, // FULL
		{"journal_mode", "wal"},
		{"wal_autocheckpoint", "65536"},
		{"journal_size_limit", "268435456"},
		{"foreign_keys", "1"},
	} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
}
