package ratelimit

import (
	"fmt"
	"math"
	"time"
)

// epsilon is the tolerance, in tokens, of the floating-point bucket
// arithmetic, so that a rate such as 7/1m still grants exactly 7 in a burst.
// gcra.lua uses the same value.
const epsilon = 1e-6

// check validates a call; ok is false for an unlimited rate, which needs no
// bucket at all.
func check(r Rate, n int) (ok bool, err error) {
	switch {
	case r.N < 0:
		return false, fmt.Errorf("%w: negative count in rate %d/%s", ErrInvalid, r.N, r.Per)
	case r.N == 0:
		return false, nil
	case r.Per <= 0:
		return false, fmt.Errorf("%w: rate %d/%s has no positive period", ErrInvalid, r.N, r.Per)
	case n < 0:
		return false, fmt.Errorf("%w: negative cost %d", ErrInvalid, n)
	case n > r.N:
		return false, fmt.Errorf("%w: cost %d exceeds the burst %d and could never be allowed", ErrInvalid, n, r.N)
	}
	return true, nil
}

// unlimited is the Result for a Rate with N of 0.
var unlimited = Result{Allowed: true}

// decide runs GCRA at now on a bucket whose theoretical arrival time is tat,
// both in nanoseconds since a fixed epoch (pass now for a missing bucket). It
// takes n tokens when they are there, or only looks when n is 0, and returns
// the new tat with the Result. gcra.lua is the same computation in
// microseconds; keep the two in step.
func decide(tat, now float64, r Rate, n int) (float64, Result) {
	per := float64(r.Per)
	interval := per / float64(r.N) // time to earn one token
	tat = max(tat, now)
	avail := (per - (tat - now)) / interval // tokens in the bucket now
	cost := float64(max(n, 1))
	res := Result{Limit: r.N}
	if avail+epsilon >= cost {
		res.Allowed = true
		if n > 0 {
			tat += cost * interval
			avail -= cost
		}
	} else {
		// Until tat+cost·interval fits within per of now, written so that
		// whole-number rates give exact answers.
		res.RetryAfter = max(ceilDuration(tat-now+cost*interval-per), 1)
	}
	res.Remaining = min(max(int(math.Floor(avail+epsilon)), 0), r.N)
	res.Reset = ceilDuration(tat - now)
	return tat, res
}

// ceilDuration rounds a span in nanoseconds up, so Retry-After never promises
// too early.
func ceilDuration(ns float64) time.Duration {
	if ns <= 0 {
		return 0
	}
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(ns))
}
