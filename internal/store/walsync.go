package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// SQLite's commits are made durable off the writer's turn (decisions.md
// #22). The writer connection commits with synchronous=NORMAL: COMMIT
// appends the group's pages to the WAL and returns without fsync, and the
// writer's turn passes on at once. walSyncer then fsyncs the WAL, one sync
// covering every commit appended before it started, and only then are the
// group's members told that their transactions committed. While one group's
// sync waits on the disk (about a millisecond here), the next group runs its
// statements: the writer's turn no longer includes the disk's latency.
//
// A commit is visible to readers before it is durable. So that no answer
// shows what a crash could still undo, each reader-pool read notes the
// newest commit it could have seen (a readMark in the request's context),
// and WaitReads holds the response until that commit is synced. A write's
// own acknowledgement already waits for its sync, which covers every commit
// before it.
//
// A sync that fails leaves the WAL's state on disk unknown (Linux may drop
// the unwritten pages and report success to a later fsync), so the store
// stops: every later commit and every waiting read fails with Unavailable
// until the server restarts and SQLite recovers the WAL.
type walSyncer struct {
	path string
	sync func(*os.File) error // (*os.File).Sync; tests substitute it
	idle func()               // called when everything handed over is synced

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	// begun numbers the commits: the writer's holder takes the next number
	// just before COMMIT, so a read that saw a commit finds its number (or a
	// later one) here once its statement has run.
	begun atomic.Uint64
	// durable is the newest number whose commit is synced (or failed).
	durable atomic.Uint64

	mu     sync.Mutex
	queue  []*group      // handed over after COMMIT, in commit order
	synced chan struct{} // closed, and replaced, after each sync
	err    error         // the first sync failure; sticky

	f *os.File // the WAL, owned by run
}

func newWALSyncer(dbPath string) (*walSyncer, error) {
	y := &walSyncer{path: dbPath + "-wal", sync: (*os.File).Sync, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), synced: make(chan struct{})}
	if err := y.open(); err != nil {
		return nil, err
	}
	go y.run()
	return y, nil
}

// open opens the WAL, creating it private to this user when SQLite has not
// yet, and syncs its directory so the file's name is durable too.
func (y *walSyncer) open() error {
	f, err := os.OpenFile(y.path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- derived from the operator's database path
	if err != nil {
		return fmt.Errorf("store: open the SQLite WAL %s to sync it: %w", y.path, err)
	}
	if err := syncDir(filepath.Dir(y.path)); err != nil {
		_ = f.Close()
		return err
	}
	if y.f != nil {
		_ = y.f.Close()
	}
	y.f = f
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the data dir
	if err != nil {
		return fmt.Errorf("store: open %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}

// failed returns Unavailable once a sync has failed, else nil.
func (y *walSyncer) failed() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.err != nil {
		return unavailable(fmt.Errorf("store: a sync of the SQLite WAL failed, so writes are refused until the server restarts: %w", y.err))
	}
	return nil
}

// next numbers a commit about to run. Holder of the writer's turn only.
func (y *walSyncer) next() uint64 { return y.begun.Add(1) }

// add hands over a group whose COMMIT ran (g.seq set): its done closes once
// a sync after the COMMIT succeeded or failed.
func (y *walSyncer) add(g *group) {
	y.mu.Lock()
	y.queue = append(y.queue, g)
	y.mu.Unlock()
	select {
	case y.kick <- struct{}{}:
	default:
	}
}

// syncNow syncs the WAL once more and returns once every commit so far is
// durable, including those made outside the writer's turn (migrations).
func (y *walSyncer) syncNow() error {
	g := &group{seq: y.begun.Load(), done: make(chan struct{})}
	y.add(g)
	<-g.done
	return g.err
}

// run syncs whenever commits were handed over; once everything is synced
// it lets the store commit a group left open meanwhile (idle). On stop it
// goes on until nothing is pending, so no transaction is left waiting.
func (y *walSyncer) run() {
	defer close(y.done)
	stopping := false
	for {
		select {
		case <-y.kick:
		case <-y.stop:
			stopping = true
		}
		y.flush()
		if y.pending() == 0 && y.idle != nil {
			y.idle() // may hand over one more group, and kick
		}
		if stopping && y.pending() == 0 {
			return
		}
	}
}

func (y *walSyncer) pending() int {
	y.mu.Lock()
	defer y.mu.Unlock()
	return len(y.queue)
}

// flush syncs the WAL once for every group handed over so far and releases
// them.
func (y *walSyncer) flush() {
	y.mu.Lock()
	batch := y.queue
	y.queue = nil
	err := y.err
	y.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err == nil {
		err = y.syncWAL()
		if err != nil {
			slog.Error("store: syncing the SQLite WAL failed: refusing every further write until a restart", "path", y.path, "err", err)
		}
	}
	y.mu.Lock()
	if err != nil && y.err == nil {
		y.err = err
	}
	for _, g := range batch {
		if g.seq > y.durable.Load() {
			y.durable.Store(g.seq)
		}
	}
	close(y.synced)
	y.synced = make(chan struct{})
	y.mu.Unlock()
	for _, g := range batch {
		if err != nil && g.err == nil {
			g.err = unavailable(errors.Join(errors.New("store: the commit could not be made durable"), err))
		}
		close(g.done)
	}
}

// syncWAL fsyncs the WAL file. SQLite keeps the file while any connection
// is open; should it have replaced the file anyway (every connection closed
// and reopened), the pages of the old one were checkpointed into the
// database, which SQLite synced, and the new file is opened and synced.
func (y *walSyncer) syncWAL() error {
	if fi, err := y.f.Stat(); err == nil {
		if cur, err := os.Stat(y.path); err == nil && !os.SameFile(fi, cur) {
			if err := y.open(); err != nil {
				return err
			}
		}
	}
	if err := y.sync(y.f); err != nil {
		return fmt.Errorf("store: sync the SQLite WAL: %w", err)
	}
	return nil
}

// wait returns once every commit up to seq is durable, or with the sync
// failure, or with Unavailable when ctx ends first.
func (y *walSyncer) wait(ctx context.Context, seq uint64) error {
	for {
		if y.durable.Load() >= seq {
			return y.failed()
		}
		y.mu.Lock()
		if y.durable.Load() >= seq {
			y.mu.Unlock()
			continue
		}
		ch := y.synced
		y.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return unavailable(ctx.Err())
		}
	}
}

// close syncs what is pending and closes the WAL file; the store's
// connections must be closed afterwards, not before.
func (y *walSyncer) close() error {
	close(y.stop)
	<-y.done
	return y.f.Close()
}

// readMark is what TrackReads puts in a context: the newest commit number
// a read in that context could have seen.
type readMark struct {
	need atomic.Uint64
}

type readMarkKey struct{}

// note records that a read ran: any commit it saw is numbered at most
// begun as read after the statement's first step.
func (m *readMark) note(y *walSyncer) {
	n := y.begun.Load()
	for {
		cur := m.need.Load()
		if cur >= n || m.need.CompareAndSwap(cur, n) {
			return
		}
	}
}

// TrackReads returns ctx marked so that the reads made with it are
// remembered for WaitReads. On PostgreSQL, whose commits are durable before
// they are visible, it returns ctx unchanged.
func (s *Store) TrackReads(ctx context.Context) context.Context {
	if s.wal == nil {
		return ctx
	}
	return context.WithValue(ctx, readMarkKey{}, new(readMark))
}

// WaitReads returns once every commit that the reads made with ctx (marked
// by TrackReads) could have seen is durable: call it before answering with
// what they returned. It returns at once when nothing is pending, and
// Unavailable when the commit cannot be made durable or ctx ends first.
func (s *Store) WaitReads(ctx context.Context) error {
	if s.wal == nil {
		return nil
	}
	m, _ := ctx.Value(readMarkKey{}).(*readMark)
	if m == nil {
		return nil
	}
	need := m.need.Load()
	if need == 0 {
		return nil
	}
	return s.wal.wait(ctx, need)
}

// markRead is the reader pool's hook: the read made with ctx just ran its
// first step.
func (s *Store) markRead(ctx context.Context) {
	if m, _ := ctx.Value(readMarkKey{}).(*readMark); m != nil {
		m.note(s.wal)
	}
}
