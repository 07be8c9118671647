package ratelimit_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// newLimiterFunc returns a fresh, empty Limiter and a function that moves
// its clock forward.
type newLimiterFunc func(t *testing.T) (ratelimit.Limiter, func(time.Duration))

// perMinute10 earns a token every 6s: whole numbers in both implementations'
// clocks, so every Result below is exact.
var perMinute10 = ratelimit.Rate{N: 10, Per: time.Minute}

// fakeClock is a clock that only moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func allow(t *testing.T, l ratelimit.Limiter, key string, r ratelimit.Rate, n int) ratelimit.Result {
	t.Helper()
	res, err := l.Allow(t.Context(), key, r, n)
	if err != nil {
		t.Fatalf("Allow(%q, %v, %d): %v", key, r, n, err)
	}
	return res
}

func peek(t *testing.T, l ratelimit.Limiter, key string, r ratelimit.Rate) ratelimit.Result {
	t.Helper()
	res, err := l.Peek(t.Context(), key, r)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, r, err)
	}
	return res
}

func check(t *testing.T, what string, got, want ratelimit.Result) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// refused is the Result of a refusal at rate perMinute10.
func refused(remaining int, reset, retry time.Duration) ratelimit.Result {
	return ratelimit.Result{Limit: 10, Remaining: remaining, Reset: reset, RetryAfter: retry}
}

// allowed is the Result of a success at rate perMinute10.
func allowed(remaining int, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{Allowed: true, Limit: 10, Remaining: remaining, Reset: reset}
}

// suite is the behaviour every Limiter shares; run on Memory and on Redis.
func suite(t *testing.T, newLimiter newLimiterFunc) {
	t.Run("burst then refusal", func(t *testing.T) {
		l, _ := newLimiter(t)
		check(t, "peek at a new key", peek(t, l, "k", perMinute10), allowed(10, 0))
		for i := range 10 {
			check(t, "allow", allow(t, l, "k", perMinute10, 1), allowed(9-i, time.Duration(i+1)*6*time.Second))
		}
		check(t, "11th", allow(t, l, "k", perMinute10, 1), refused(0, time.Minute, 6*time.Second))
		check(t, "refusal takes nothing", allow(t, l, "k", perMinute10, 1), refused(0, time.Minute, 6*time.Second))
		check(t, "peek", peek(t, l, "k", perMinute10), refused(0, time.Minute, 6*time.Second))
	})
	t.Run("refill", func(t *testing.T) {
		l, advance := newLimiter(t)
		for range 10 {
			allow(t, l, "k", perMinute10, 1)
		}
		advance(2 * time.Second)
		check(t, "before a token is earned", allow(t, l, "k", perMinute10, 1), refused(0, 58*time.Second, 4*time.Second))
		advance(4 * time.Second)
		check(t, "one token earned", allow(t, l, "k", perMinute10, 1), allowed(0, time.Minute))
		advance(18 * time.Second)
		check(t, "three earned", peek(t, l, "k", perMinute10), allowed(3, 42*time.Second))
		advance(time.Hour)
		check(t, "full again", peek(t, l, "k", perMinute10), allowed(10, 0))
		check(t, "a full bucket gives the whole burst", allow(t, l, "k", perMinute10, 10), allowed(0, time.Minute))
	})
	t.Run("cost above one", func(t *testing.T) {
		l, advance := newLimiter(t)
		check(t, "take 4", allow(t, l, "k", perMinute10, 4), allowed(6, 24*time.Second))
		check(t, "7 of 6 left", allow(t, l, "k", perMinute10, 7), refused(6, 24*time.Second, 6*time.Second))
		check(t, "take the 6", allow(t, l, "k", perMinute10, 6), allowed(0, time.Minute))
		advance(12 * time.Second)
		check(t, "3 of 2 earned", allow(t, l, "k", perMinute10, 3), refused(2, 48*time.Second, 6*time.Second))
		check(t, "n of 0 is Peek", allow(t, l, "k", perMinute10, 0), peek(t, l, "k", perMinute10))
	})
	t.Run("keys are independent", func(t *testing.T) {
		l, _ := newLimiter(t)
		keys := []string{"a", "b", "", "user\r\nname", "\x00", string(make([]byte, 10_000)), "ключ"}
		for _, k := range keys {
			check(t, "first of "+k, allow(t, l, k, perMinute10, 10), allowed(0, time.Minute))
		}
		for _, k := range keys {
			check(t, "second of "+k, allow(t, l, k, perMinute10, 1), refused(0, time.Minute, 6*time.Second))
		}
		check(t, "another key", allow(t, l, "c", perMinute10, 1), allowed(9, 6*time.Second))
	})
	t.Run("reset", func(t *testing.T) {
		l, _ := newLimiter(t)
		allow(t, l, "k", perMinute10, 10)
		allow(t, l, "other", perMinute10, 10)
		if err := l.Reset(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		check(t, "after reset", allow(t, l, "k", perMinute10, 1), allowed(9, 6*time.Second))
		check(t, "other key kept", peek(t, l, "other", perMinute10), refused(0, time.Minute, 6*time.Second))
		if err := l.Reset(t.Context(), "never seen"); err != nil {
			t.Errorf("Reset of an unknown key: %v", err)
		}
	})
	t.Run("unlimited", func(t *testing.T) {
		l, _ := newLimiter(t)
		for _, r := range []ratelimit.Rate{{}, {N: 0, Per: time.Minute}} {
			for range 100 {
				check(t, "allow", allow(t, l, "k", r, 1_000_000), ratelimit.Result{Allowed: true})
			}
			check(t, "peek", peek(t, l, "k", r), ratelimit.Result{Allowed: true})
		}
	})
	t.Run("uneven rate grants the whole burst", func(t *testing.T) {
		l, advance := newLimiter(t)
		r := ratelimit.Rate{N: 7, Per: time.Minute} // 8.571428…s a token
		for i := range 7 {
			if res := allow(t, l, "k", r, 1); !res.Allowed || res.Remaining != 6-i {
				t.Fatalf("call %d: %+v, want allowed with %d remaining", i+1, res, 6-i)
			}
		}
		res := allow(t, l, "k", r, 1)
		if res.Allowed || res.RetryAfter < 8571*time.Millisecond || res.RetryAfter > 8572*time.Millisecond {
			t.Fatalf("8th call: %+v, want refused for 8.571s", res)
		}
		advance(res.RetryAfter)
		if res := allow(t, l, "k", r, 1); !res.Allowed {
			t.Fatalf("after RetryAfter: %+v, want allowed", res)
		}
	})
	t.Run("invalid calls", func(t *testing.T) {
		l, _ := newLimiter(t)
		for name, c := range map[string]struct {
			r ratelimit.Rate
			n int
		}{
			"no period":        {ratelimit.Rate{N: 5}, 1},
			"negative period":  {ratelimit.Rate{N: 5, Per: -time.Second}, 1},
			"negative count":   {ratelimit.Rate{N: -1, Per: time.Second}, 1},
			"negative cost":    {perMinute10, -1},
			"cost above burst": {perMinute10, 11},
		} {
			if _, err := l.Allow(t.Context(), "k", c.r, c.n); !errors.Is(err, ratelimit.ErrInvalid) {
				t.Errorf("%s: Allow error = %v, want ErrInvalid", name, err)
			}
		}
		if _, err := l.Peek(t.Context(), "k", ratelimit.Rate{N: 1}); !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("Peek error = %v, want ErrInvalid", err)
		}
	})
	t.Run("concurrent callers share one burst", func(t *testing.T) {
		l, _ := newLimiter(t)
		var wg sync.WaitGroup
		var got atomic.Int32
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				res, err := l.Allow(t.Context(), "k", perMinute10, 1)
				if err != nil {
					t.Error(err)
				}
				if res.Allowed {
					got.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if got.Load() != 10 {
			t.Errorf("%d of 100 concurrent calls allowed, want exactly 10", got.Load())
		}
	})
}
