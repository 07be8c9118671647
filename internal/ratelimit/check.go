package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Check takes one token from key under r. A refusal is a 429 apperr with
// Retry-After and the RateLimit-Limit, -Remaining and -Reset headers; a
// limiter that cannot answer is a 503 (fail closed). The zero Rate always
// passes without touching the limiter.
func Check(ctx context.Context, l Limiter, key string, r Rate) error {
	if r.N == 0 || l == nil {
		return nil
	}
	res, err := l.Allow(ctx, key, r, 1)
	if errors.Is(err, ErrUnavailable) {
		return apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the rate limiter is unavailable; retry shortly").WithCause(err)
	} else if err != nil {
		return apperr.Internal(err)
	}
	if res.Allowed {
		return nil
	}
	e := apperr.RateLimited(apperr.CodeRateLimited, res.RetryAfter, "too many requests; retry after the Retry-After header's seconds")
	e.Headers = Headers(res)
	return e
}

// Headers returns the RateLimit-Limit, -Remaining and -Reset headers of a
// result (draft-ietf-httpapi-ratelimit-headers), in whole seconds rounded up.
func Headers(res Result) map[string]string {
	if res.Limit == 0 {
		return nil
	}
	return map[string]string{
		"RateLimit-Limit":     strconv.Itoa(res.Limit),
		"RateLimit-Remaining": strconv.Itoa(max(res.Remaining, 0)),
		"RateLimit-Reset":     strconv.Itoa(int((res.Reset + time.Second - 1) / time.Second)),
	}
}
