package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestReturnIdleWorkAreas drives the ticks by hand: the work areas go back
// once per pause in sign-ins, never while hashes keep coming, never before
// the first hash, and not again until more hashes ran.
func TestReturnIdleWorkAreas(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Unbuffered: a tick is taken only once the previous one is handled,
	// and each handling reads the hash count the test sends it.
	ticks := make(chan time.Time)
	counts := make(chan uint64)
	var freed atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		returnIdleWorkAreas(ctx, func() uint64 { return <-counts }, ticks, func() { freed.Add(1) })
	}()
	counts <- 0 // the count at start
	steps := []struct {
		name   string
		hashed uint64 // the count the tick sees
		freed  uint64 // returns after it
	}{
		{"no sign-in yet", 0, 0},
		{"hashing", 3, 0},
		{"a pause", 3, 1},
		{"still idle", 3, 1},
		{"a new burst", 5, 1},
		{"a pause again", 5, 2},
		{"idle again", 5, 2},
	}
	for i, s := range steps {
		ticks <- time.Time{}
		if i > 0 {
			if got, prev := freed.Load(), steps[i-1]; got != prev.freed {
				t.Fatalf("after %q: returned %d times, want %d", prev.name, got, prev.freed)
			}
		}
		counts <- s.hashed
	}
	cancel()
	<-done
	if got, last := freed.Load(), steps[len(steps)-1]; got != last.freed {
		t.Fatalf("after %q: returned %d times, want %d", last.name, got, last.freed)
	}
}
