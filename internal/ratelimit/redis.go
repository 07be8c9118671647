package ratelimit

import (
	"context"
	"crypto/sha256"
	_ "embed" // gcra.lua
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraSource string

// gcraScript takes from or peeks at one bucket atomically, reading the clock
// with TIME inside the script. Run sends EVALSHA and falls back to EVAL once
// after a restart or failover has emptied the script cache.
var gcraScript = redis.NewScript(gcraSource)

// redisEpoch is the zero of the microsecond clock in gcra.lua (which spells it
// out as 1735689600): near enough that bucket times stay exact in a double.
var redisEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Redis is a Limiter whose buckets live in Redis, so that every instance of a
// Gatehouse cluster draws from the same buckets. Each call is one atomic Lua
// script (GCRA) that reads the Redis server's clock, so instances with skewed
// clocks agree; a bucket's key expires when the bucket is full again. Keys are
// the prefix and the SHA-256 hex of the caller's key: bounded in length, one
// Redis Cluster slot each, and safe to build from user input.
type Redis struct {
	client redis.UniversalClient
	prefix string
	// now, when set (tests only), replaces the Redis server clock.
	now func() time.Time
}

// NewRedis returns a Redis limiter on client whose keys start with prefix
// (e.g. "gatehouse:rl:"). It does not contact Redis.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// key maps a caller's key to the Redis key of its bucket.
func (l *Redis) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return l.prefix + hex.EncodeToString(sum[:])
}

// Allow implements Limiter.Allow. When Redis cannot be reached or answers
// with an error, it returns an error wrapping ErrUnavailable and the caller
// must refuse (SPEC §15).
func (l *Redis) Allow(ctx context.Context, key string, r Rate, n int) (Result, error) {
	if ok, err := check(r, n); !ok {
		return unlimited, err
	}
	return l.run(ctx, key, r, n)
}

// Peek implements Limiter.Peek; errors as for Allow.
func (l *Redis) Peek(ctx context.Context, key string, r Rate) (Result, error) {
	if ok, err := check(r, 0); !ok {
		return unlimited, err
	}
	return l.run(ctx, key, r, 0)
}

// Reset implements Limiter.Reset by deleting the bucket; errors wrap
// ErrUnavailable.
func (l *Redis) Reset(ctx context.Context, key string) error {
	if err := l.client.Del(ctx, l.key(key)).Err(); err != nil {
		return fmt.Errorf("%w: reset: %w", ErrUnavailable, err)
	}
	return nil
}

func (l *Redis) run(ctx context.Context, key string, r Rate, n int) (Result, error) {
	now := "" // the script reads the server's clock
	if l.now != nil {
		now = fmt.Sprint(l.now().Sub(redisEpoch).Microseconds())
	}
	per := float64(r.Per) / float64(time.Microsecond)
	v, err := gcraScript.Run(ctx, l.client, []string{l.key(key)}, r.N, per, n, now).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(v) != 4 {
		return Result{}, fmt.Errorf("%w: script returned %d values, want 4", ErrUnavailable, len(v))
	}
	res := Result{
		Allowed:    v[0] == 1,
		Limit:      r.N,
		Remaining:  int(v[1]),
		Reset:      time.Duration(v[2]) * time.Microsecond,
		RetryAfter: time.Duration(v[3]) * time.Microsecond,
	}
	return res, nil
}
