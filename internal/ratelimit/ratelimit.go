// Package ratelimit decides whether an event may happen now under a token
// bucket limit (SPEC §4 and §8): per client IP and per username on credential
// endpoints, per API key as configured.
//
// Two implementations share one behaviour: [Memory] for a single node and
// [Redis] for a cluster of Gatehouse instances. Both run GCRA, the generic cell
// rate algorithm, which is a token bucket kept as one number per key: the
// theoretical arrival time (TAT) at which the bucket will be full again. A
// bucket of rate N/Per holds N tokens and earns one back every Per/N.
//
// Callers fail closed (SPEC §15): when the limiter cannot decide, Allow returns
// an error wrapping [ErrUnavailable] and the caller answers 503, never "allowed".
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is wrapped by every error that means the limiter could not
// reach its state (Redis down, timed out, refusing writes). Callers must treat
// it as a refusal and answer 503.
var ErrUnavailable = errors.New("ratelimit: limiter unavailable")

// ErrInvalid is wrapped by errors for calls that can never be answered: a
// rate with a count but no positive period, a negative cost, or a cost above
// the burst. They are programming errors, not client mistakes.
var ErrInvalid = errors.New("ratelimit: invalid call")

// Rate is N events per Per: a token bucket with a burst of N that refills N
// tokens every Per (GCRA). The zero Rate, or any Rate with N of 0, is
// unlimited.
type Rate struct {
	N   int
	Per time.Duration
}

// Result is the outcome of one Allow or Peek call: enough for the
// RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and Retry-After
// headers. An unlimited Rate gives Allowed and a Limit of 0, which means
// "send no RateLimit headers".
type Result struct {
	// Allowed reports whether the tokens were taken (Allow) or whether one
	// token could be taken now (Peek).
	Allowed bool
	// Limit is the burst, the Rate's N.
	Limit int
	// Remaining is the number of whole tokens left after this call.
	Remaining int
	// Reset is the time until the bucket is full again.
	Reset time.Duration
	// RetryAfter is the time until the refused request would be allowed; 0
	// when allowed.
	RetryAfter time.Duration
}

// Limiter holds one token bucket per key. The rate travels with each call, so
// one Limiter serves many limits; callers keep keys of different limits apart
// with a prefix such as "login-ip:".
type Limiter interface {
	// Allow takes n tokens from the bucket named key under rate r and
	// reports whether it could. A refusal takes nothing. n of 0 is Peek.
	// Errors wrap ErrUnavailable (fail closed) or ErrInvalid.
	Allow(ctx context.Context, key string, r Rate, n int) (Result, error)
	// Peek reports the bucket's state without taking; Allowed tells whether
	// Allow with n of 1 would succeed now. Errors as for Allow.
	Peek(ctx context.Context, key string, r Rate) (Result, error)
	// Reset forgets the bucket's debt, leaving it full (e.g. after a
	// successful login). Errors wrap ErrUnavailable.
	Reset(ctx context.Context, key string) error
}

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)
