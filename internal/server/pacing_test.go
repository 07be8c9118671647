package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// finishes runs fn and fails t if it has not returned after a generous
// guard (a hold that should not wait would otherwise hang the test).
func finishes(t *testing.T, fn func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(30 * time.Second):
		t.Fatal("hold did not return")
		return 0
	}
}

func TestPacerHoldsOnlyRateLimits(t *testing.T) {
	p := newPacer(time.Hour) // anything but a short hold would hang the test
	ctx := t.Context()
	for _, err := range []error{nil, errors.New("boom"), apperr.Unavailable(apperr.CodeUnavailable, time.Hour, "busy"),
		oauth.InvalidGrant("wrong password")} {
		finishes(t, func() { p.hold(ctx, err) })
	}
	// A refusal waits its Retry-After when that is sooner than the delay,
	// whether it comes as a problem or as an OAuth error.
	const retry = 50 * time.Millisecond
	for _, err := range []error{apperr.RateLimited(apperr.CodeRateLimited, retry, "slow down"),
		oauth.FromAppErr(apperr.RateLimited(apperr.CodeRateLimited, retry, "slow down"))} {
		if waited := finishes(t, func() { p.hold(ctx, err) }); waited < retry {
			t.Fatalf("hold of %v returned after %v, want at least %v", err, waited, retry)
		}
	}
}

func TestPacerBounded(t *testing.T) {
	p := newPacer(time.Hour)
	refused := apperr.RateLimited(apperr.CodeRateLimited, 2*time.Hour, "slow down")
	// A request that goes away stops being held.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	finishes(t, func() { p.hold(ctx, refused) })
	// With maxHeldRefusals held, the next refusal is answered at once.
	for range maxHeldRefusals {
		p.held <- struct{}{}
	}
	finishes(t, func() { p.hold(t.Context(), refused) })
	// Off: never held.
	finishes(t, func() { newPacer(0).hold(t.Context(), refused) })
}
