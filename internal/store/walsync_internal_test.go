package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// gatedSync replaces the WAL syncer's fsync: each sync announces itself on
// started and waits for a value on release, which it returns (after really
// syncing when the value is nil). completed counts the syncs that returned.
type gatedSync struct {
	started   chan struct{}
	release   chan error
	completed atomic.Int64
}

func gateSyncs(t *testing.T, s *Store) *gatedSync {
	t.Helper()
	g := &gatedSync{started: make(chan struct{}, 16), release: make(chan error)}
	s.wal.sync = func(f *os.File) error {
		select {
		case g.started <- struct{}{}:
		default:
		}
		err := <-g.release // after the test, closed: every sync goes through
		if err == nil {
			err = f.Sync()
		}
		g.completed.Add(1)
		return err
	}
	// Runs before the store's Close (cleanups run last first), which waits
	// for the syncer, even when the test stopped half way.
	t.Cleanup(func() { close(g.release) })
	return g
}

func openWALStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{SQLitePath: filepath.Join(t.TempDir(), SQLiteFile)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(t.Context(), func(ctx context.Context) error {
		_, err := s.wr(ctx).exec(ctx, "CREATE TABLE t (x INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func insert(s *Store, x int) error {
	return s.InTx(context.Background(), func(ctx context.Context) error {
		_, err := s.wr(ctx).exec(ctx, "INSERT INTO t (x) VALUES ($1)", x)
		return err
	})
}

// TestWALSyncAcknowledgesAfterSync: a transaction returns only after a sync
// of the WAL that began after its commit, and while one sync waits on the
// disk the writer goes on with the next transaction, whose acknowledgement
// waits for the next sync.
func TestWALSyncAcknowledgesAfterSync(t *testing.T) {
	s := openWALStore(t)
	t.Cleanup(func() { _ = s.Close() })
	g := gateSyncs(t, s)

	syncsAtReturn := make(chan int64, 2)
	errs := make(chan error, 2)
	run := func(x int) {
		err := insert(s, x)
		syncsAtReturn <- g.completed.Load()
		errs <- err
	}
	go run(1)
	<-g.started // the first transaction committed; its sync waits

	// The writer is free: a second transaction commits meanwhile.
	second := make(chan struct{})
	go func() {
		_ = s.InTx(context.Background(), func(ctx context.Context) error {
			close(second) // fn runs: the writer's turn passed on
			_, err := s.wr(ctx).exec(ctx, "INSERT INTO t (x) VALUES (2)")
			return err
		})
		syncsAtReturn <- g.completed.Load()
		errs <- nil
	}()
	<-second
	select {
	case n := <-syncsAtReturn:
		t.Fatalf("a transaction returned after %d syncs, before its commit was synced", n)
	default:
	}
	g.release <- nil // the first sync completes
	<-g.started      // the second transaction's commit needs a sync of its own
	g.release <- nil
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	first, last := <-syncsAtReturn, <-syncsAtReturn
	if first < 1 || last < 2 {
		t.Fatalf("transactions returned after %d and %d syncs, want at least 1 and 2", first, last)
	}
	var n int
	if err := s.rd(t.Context()).queryRow(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows = %d, %v; want 2", n, err)
	}
}

// TestWALSyncFailureStopsWrites: when a sync fails, the transactions it
// covered fail with Unavailable, and so does every later write, the
// readiness check, and an answer that read what the failed sync covered.
func TestWALSyncFailureStopsWrites(t *testing.T) {
	s := openWALStore(t)
	t.Cleanup(func() { _ = s.Close() })
	g := gateSyncs(t, s)

	errs := make(chan error, 1)
	go func() { errs <- insert(s, 1) }()
	<-g.started
	read := s.TrackReads(t.Context())
	var n int
	if err := s.rd(read).queryRow(read, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("before the sync, a reader sees %d rows (%v); want the committed row", n, err)
	}
	g.release <- errors.New("EIO")
	if err := <-errs; !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("transaction whose sync failed: %v, want Unavailable", err)
	}
	if err := insert(s, 2); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("write after a failed sync: %v, want Unavailable", err)
	}
	if err := s.Ping(t.Context()); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("Ping after a failed sync: %v, want Unavailable", err)
	}
	if err := s.WaitReads(read); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("WaitReads after a failed sync: %v, want Unavailable", err)
	}
}

// TestWaitReads: an answer built from a read that saw a commit not yet
// synced waits for that sync; one whose reads saw only synced commits, or
// that read nothing, does not wait.
func TestWaitReads(t *testing.T) {
	s := openWALStore(t)
	t.Cleanup(func() { _ = s.Close() })

	settled := s.TrackReads(t.Context())
	var n int
	if err := s.rd(settled).queryRow(settled, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	g := gateSyncs(t, s)
	errs := make(chan error, 1)
	go func() { errs <- insert(s, 1) }()
	<-g.started // committed, not synced

	ended, cancel := context.WithCancel(s.TrackReads(t.Context()))
	cancel()
	if err := s.WaitReads(ended); err != nil {
		t.Fatalf("no read made: WaitReads = %v, want nil at once", err)
	}
	if err := s.WaitReads(settled); err != nil {
		t.Fatalf("read before the commit: WaitReads = %v, want nil at once", err)
	}
	fresh := s.TrackReads(t.Context())
	rows, err := s.rd(fresh).query(fresh, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("the reader does not see the committed row")
	}
	_ = rows.Close()
	freshEnded, cancel := context.WithCancel(fresh)
	cancel()
	if err := s.WaitReads(freshEnded); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("read of an unsynced commit, context ended: WaitReads = %v, want Unavailable (it must wait)", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.WaitReads(fresh) }()
	g.release <- nil
	if err := <-waited; err != nil {
		t.Fatalf("WaitReads after the sync: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// TestCloseCommitsTheOpenGroup: a transaction that joined a group left open
// while a sync ran is committed and synced by Close, not left waiting.
func TestCloseCommitsTheOpenGroup(t *testing.T) {
	s := openWALStore(t)
	g := gateSyncs(t, s)
	errs := make(chan error, 2)
	go func() { errs <- insert(s, 1) }()
	<-g.started // the first group's sync waits
	joined := make(chan struct{})
	go func() {
		errs <- s.InTx(context.Background(), func(ctx context.Context) error {
			defer close(joined)
			_, err := s.wr(ctx).exec(ctx, "INSERT INTO t (x) VALUES (2)")
			return err
		})
	}()
	<-joined
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	g.release <- nil // the first sync; then the open group is committed
	<-g.started
	g.release <- nil
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSyncs: migrations commit outside the writer's turn, so
// Migrate syncs the WAL itself before it returns.
func TestMigrateSyncs(t *testing.T) {
	s, err := Open(t.Context(), Options{SQLitePath: filepath.Join(t.TempDir(), SQLiteFile)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	g := gateSyncs(t, s)
	migrated := make(chan error, 1)
	go func() { migrated <- s.Migrate(context.Background()) }()
	select {
	case <-g.started:
	case err := <-migrated:
		t.Fatalf("Migrate returned (%v) without syncing the WAL", err)
	}
	g.release <- nil
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	if g.completed.Load() < 1 {
		t.Fatal("Migrate returned before its sync completed")
	}
}
