package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// stored returns the actions of the stored events but the first append's
// ActionHeadAuthenticated.
func stored(t *testing.T, st *store.Store) []string {
	t.Helper()
	var actions []string
	if err := st.ScanAudit(t.Context(), 0, func(e *audit.Event) error {
		if e.Action != audit.ActionHeadAuthenticated {
			actions = append(actions, e.Action)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return actions
}

// TestBatcherBackPressure: a caller that finds the queue full waits for room
// instead of writing its event itself (which made every such caller take the
// audit head for a commit of its own), gives up with Unavailable when its
// context ends, and writes synchronously once the batcher has stopped.
func TestBatcherBackPressure(t *testing.T) {
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			st := newStore(t)
			b := audit.NewBatcher(audit.NewRecorder(st, storetest.ChainKey), 1)
			ctx := t.Context()
			if err := b.Record(ctx, audit.Event{Action: "token.issued"}); err != nil {
				t.Fatal(err)
			}

			// The queue is full and nothing drains it: the caller waits.
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			err := b.Record(short, audit.Event{Action: "dropped"})
			if !apperr.Is(err, apperr.KindUnavailable) {
				t.Fatalf("Record with the queue full until ctx ended = %v, want Unavailable", err)
			}
			waited := make(chan error, 1)
			go func() { waited <- b.Record(ctx, audit.Event{Action: "token.refused"}) }()
			if got := stored(t, st); len(got) != 0 {
				t.Fatalf("events written while the queue was full: %v", got)
			}

			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan struct{})
			go func() { b.Run(runCtx); close(ran) }()
			if err := <-waited; err != nil {
				t.Fatal(err)
			}
			stop()
			<-ran
			got := stored(t, st)
			if len(got) != 2 || got[0] != "token.issued" || got[1] != "token.refused" {
				t.Fatalf("events after the run: %v, want [token.issued token.refused]", got)
			}

			// Stopped: written before Record returns.
			if err := b.Record(ctx, audit.Event{Action: "after.stop"}); err != nil {
				t.Fatal(err)
			}
			if got := stored(t, st); len(got) != 3 || got[2] != "after.stop" {
				t.Fatalf("events after a record past the stop: %v", got)
			}
			res, err := audit.Verify(ctx, st, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 4 { // and the head's authentication
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
	}
}
