package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Write transactions take turns at one writer, first come, first served, and
// consecutive ones are committed together (group commit). SQLite has one
// writer connection (database/sql would hand a freed connection to a random
// waiter, and an unlucky request would wait behind dozens of later ones).
// On PostgreSQL every write that records an audit event holds the chain's
// one-row head until its commit, so such writes ran one commit (one WAL
// flush) at a time anyway, with the waiters piled up on the row lock; a
// group takes the head once and flushes once for all its members
// (decisions.md #23). When
// a transaction's fn returns and another is already waiting, the writer
// passes the open database transaction on instead of committing, and the
// last of the group commits for all. Each fn runs inside its own SAVEPOINT,
// so an fn that fails or panics undoes only its own work; an fn that
// succeeded returns from InTx only once the group's COMMIT did, with its
// error. A commit writes every page the group changed once, so a burst of
// refresh rotations touching the same index and audit pages costs a
// fraction of one commit each (docs/benchmarks.md).
//
// A group is bounded by maxGroup transactions and maxGroupAge from its
// BEGIN, so the first member's latency stays bounded under a steady stream.
const (
	maxGroup    = 32
	maxGroupAge = 4 * time.Millisecond
)

// writer is the writer's turn-taking and open group.
type writer struct {
	mu    sync.Mutex
	busy  bool            // a goroutine holds the turn
	queue []chan struct{} // waiters in arrival order; closing one hands it the turn

	// group is the open transaction; only the holder of the turn touches it.
	group *group
	// syncing is set while the WAL syncer has commits to sync: a holder
	// that nobody waits for then leaves its young group open for later
	// transactions to join, and the syncer commits it once the disk is
	// free (syncIdle), so that each sync covers one larger group.
	syncing bool
}

// group is one database transaction shared by consecutive InTx calls.
type group struct {
	st      *txState
	members int // fns that succeeded inside it
	started time.Time
	done    chan struct{} // closed once committed and synced, or failed
	err     error         // the outcome, set before done closes
	seq     uint64        // the commit's number once COMMIT ran (walsync.go)

	// closing is set when the group is full or old but its last member
	// handed the turn on before committing: the next holder commits it
	// first. The member that would otherwise commit parks on done at once,
	// so the next holder runs in its place; committing and then handing on
	// left the next holder waiting while the committer finished its whole
	// request (about a millisecond per group on 2 cores, benchmarks.md).
	closing bool
}

// acquire waits for the writer's turn in arrival order. When ctx ends first
// it returns Unavailable, unless the turn was handed over meanwhile: then it
// passes the turn on and returns Unavailable all the same.
func (s *Store) acquire(ctx context.Context) error {
	w := s.wq
	w.mu.Lock()
	if !w.busy {
		w.busy = true
		w.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	w.queue = append(w.queue, ready)
	w.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	}
	w.mu.Lock()
	if i := slices.Index(w.queue, ready); i >= 0 {
		w.queue = slices.Delete(w.queue, i, i+1)
		w.mu.Unlock()
		return unavailable(ctx.Err())
	}
	w.mu.Unlock()
	// The turn reached us as ctx ended: do not leave the others waiting.
	_ = s.leave(nil)
	return unavailable(ctx.Err())
}

// leave ends the holder's turn. With joined set, the holder's fn succeeded
// in joined (the open group): leave waits for that group's commit and
// returns its error. When another transaction waits, the turn passes to it
// with the group still open: it joins the group while the group is young
// and small, and otherwise commits it before beginning its own (see
// closing). Only a holder that nobody waits for commits the group itself.
func (s *Store) leave(joined *group) error {
	w := s.wq
	g := w.group
	w.mu.Lock()
	if len(w.queue) > 0 {
		next := w.queue[0]
		w.queue = w.queue[1:]
		if g != nil && (g.members >= maxGroup || time.Since(g.started) >= maxGroupAge) {
			g.closing = true
		}
		w.mu.Unlock()
		close(next)
		return wait(joined)
	}
	if g != nil && w.syncing && g.members < maxGroup && time.Since(g.started) < maxGroupAge {
		w.busy = false
		w.mu.Unlock()
		return wait(joined)
	}
	w.mu.Unlock()
	if g != nil {
		s.commitGroup(g)
	}
	w.mu.Lock()
	if len(w.queue) > 0 {
		// Arrived during the commit.
		next := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		close(next)
	} else {
		w.busy = false
		w.mu.Unlock()
	}
	return wait(joined)
}

func wait(g *group) error {
	if g == nil {
		return nil
	}
	<-g.done
	return g.err
}

// commitGroup commits the open group (or rolls it back when no fn in it
// succeeded), hands it to the WAL syncer, which publishes the outcome once
// the commit is durable, and prepares the statements its transactions asked
// for while the connection is free. Holder only.
func (s *Store) commitGroup(g *group) {
	s.wq.group = nil
	var err error
	if g.members > 0 {
		err = s.writeHead(g.st)
		if err == nil && s.wal != nil {
			err = s.wal.failed() // no commit after a failed sync
		}
		if err != nil {
			_ = g.st.tx.Rollback()
		} else {
			if s.wal != nil {
				g.seq = s.wal.next()
			}
			err = g.st.tx.Commit()
		}
	} else {
		err = g.st.tx.Rollback()
	}
	if err != nil {
		g.err = s.mapErr(err)
	}
	if g.seq != 0 {
		s.wq.mu.Lock()
		s.wq.syncing = true
		s.wq.mu.Unlock()
		s.wal.add(g) // done closes once the WAL is synced (walsync.go)
	} else {
		close(g.done)
	}
	if len(g.st.wanted) > 0 {
		s.wstmts.prepare(context.Background(), g.st.wanted)
	}
}

// failGroup rolls the open group back, after its transaction broke (the
// database aborted it, or a savepoint could not be set or released) or when the
// member that began it failed: every member so far gets err. Holder only.
func (s *Store) failGroup(g *group, err error) {
	s.wq.group = nil
	_ = g.st.tx.Rollback()
	g.err = err
	close(g.done)
}

// The savepoint each fn of a group runs in. Members run one after another,
// so one name serves them all.
const (
	savepoint         = "SAVEPOINT gatehouse_tx"
	releaseSavepoint  = "RELEASE gatehouse_tx"
	rollbackSavepoint = "ROLLBACK TO gatehouse_tx"
)

// inGroup is InTx: fn runs in the writer's open group, begun
// here when none is open. The transaction that begins a group runs without a
// savepoint (undoing it is rolling the group back); the others each run in
// one.
func (s *Store) inGroup(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	g := s.wq.group
	if g != nil && g.closing {
		s.commitGroup(g)
		g = nil
	}
	first := g == nil
	if first {
		// Not the request's context: database/sql rolls a transaction back
		// when its context ends, and this one outlives the request.
		tx, err := s.w.BeginTx(context.Background(), nil)
		if err != nil {
			_ = s.leave(nil)
			return s.mapErr(err)
		}
		g = &group{st: &txState{owner: s, tx: tx}, started: time.Now(), done: make(chan struct{})}
		s.wq.group = g
	} else if err := s.groupExec(g, savepoint); err != nil {
		err = s.mapErr(fmt.Errorf("store: begin savepoint: %w", err))
		s.failGroup(g, err)
		_ = s.leave(nil)
		return err
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		// fn panicked: undo its work, let the others go on, and let the
		// panic continue.
		s.undo(g, first)
		_ = s.leave(nil)
	}()
	if err := fn(context.WithValue(ctx, txKey{}, g.st)); err != nil {
		finished = true
		s.undo(g, first)
		_ = s.leave(nil)
		// fn may have seen the uncommitted work of the group's earlier
		// members (a concurrent refresh sees its sibling's rotation) and its
		// caller may act on it outside the transaction: return only once
		// that work is committed, as it would be without grouping.
		<-g.done
		return err
	}
	finished = true
	if !first {
		if err := s.groupExec(g, releaseSavepoint); err != nil {
			err = s.mapErr(fmt.Errorf("store: release savepoint: %w", err))
			s.failGroup(g, err)
			_ = s.leave(nil)
			return err
		}
	}
	g.members++
	g.st.kept = g.st.head
	return s.leave(g)
}

// groupExec runs a savepoint statement in the group's transaction, prepared
// once on SQLite (openSQLite prepares them while the connection is free;
// pgx prepares each text once per connection).
func (s *Store) groupExec(g *group, q string) error {
	_, err := runner{st: g.st, cache: s.wstmts}.exec(context.Background(), q)
	return err
}

// undo undoes the current member's work: its savepoint, or the whole group
// when it began the group. When rolling back to the savepoint fails, the
// database has already aborted the transaction (an I/O error, a full disk,
// a lost connection): the group fails.
func (s *Store) undo(g *group, first bool) {
	g.st.head = g.st.kept // the rolled-back work may have advanced it
	if first {
		s.failGroup(g, errors.New("store: the transaction was rolled back"))
		return
	}
	err := s.groupExec(g, rollbackSavepoint)
	if err == nil {
		err = s.groupExec(g, releaseSavepoint)
	}
	if err != nil {
		s.failGroup(g, s.mapErr(errors.Join(errors.New("store: transaction aborted by the database"), err)))
	}
}

// stmtCtx is the context a statement of a transaction runs with. A statement
// interrupted by its context's end aborts the whole database transaction
// (SQLite) or fails it until a rollback (PostgreSQL), and a group shares
// that transaction: statements run to completion (they are short, and the
// writer is held anyway).
func (r runner) stmtCtx(ctx context.Context) context.Context {
	if r.st != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// syncIdle runs when the WAL syncer has synced everything handed to it:
// it commits the group a holder left open meanwhile, unless a transaction
// holds the writer (it will).
func (s *Store) syncIdle() {
	w := s.wq
	w.mu.Lock()
	w.syncing = false
	if w.busy || w.group == nil {
		w.mu.Unlock()
		return
	}
	w.busy = true
	w.mu.Unlock()
	_ = s.leave(nil)
}
