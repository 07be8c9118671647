package ratelimit_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// testRedis connects to GATEHOUSE_TEST_REDIS_URL, or skips (fails when
// GATEHOUSE_REQUIRE_REDIS=1, as in CI, so the tests cannot silently stop).
func testRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	url := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			tb.Fatal("GATEHOUSE_REQUIRE_REDIS=1 but GATEHOUSE_TEST_REDIS_URL is not set; " +
				"set it to a Redis the tests may write to, e.g. GATEHOUSE_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
		}
		tb.Skip("set GATEHOUSE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the Redis tests")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("GATEHOUSE_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("GATEHOUSE_TEST_REDIS_URL=%s: %v", url, err)
	}
	return c
}

// testPrefix returns a key prefix no other test uses, and deletes its keys
// when the test ends.
func testPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	prefix := "gatehouse-test:ratelimit:" + rand.Text() + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	c := testRedis(t)
	suite(t, func(t *testing.T) (ratelimit.Limiter, func(time.Duration)) {
		clock := newFakeClock()
		l := ratelimit.NewRedis(c, testPrefix(t, c))
		l.SetClock(clock.Now)
		return l, clock.Advance
	})
}

// TestRedisServerClock runs the production path, where the script reads the
// Redis server's clock, on a short real rate.
func TestRedisServerClock(t *testing.T) {
	c := testRedis(t)
	prefix := testPrefix(t, c)
	l := ratelimit.NewRedis(c, prefix)
	r := ratelimit.Rate{N: 2, Per: 200 * time.Millisecond}
	key := "user\r\nDEL *" // user input: hashed, so neither too long nor a command
	for range 2 {
		if res := allow(t, l, key, r, 1); !res.Allowed {
			t.Fatalf("burst refused: %+v", res)
		}
	}
	res := allow(t, l, key, r, 1)
	if res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 100*time.Millisecond || res.Reset > 200*time.Millisecond {
		t.Fatalf("third call: %+v, want refused with RetryAfter in (0, 100ms]", res)
	}

	sum := sha256.Sum256([]byte(key))
	redisKey := prefix + hex.EncodeToString(sum[:])
	ttl, err := c.PTTL(t.Context(), redisKey).Result()
	if err != nil || ttl <= 0 || ttl > 200*time.Millisecond {
		t.Fatalf("PTTL %s = %v, %v; want the key to expire when the bucket is full (≤ 200ms)", redisKey, ttl, err)
	}

	time.Sleep(res.RetryAfter + 10*time.Millisecond)
	if res := allow(t, l, key, r, 1); !res.Allowed {
		t.Fatalf("after RetryAfter: %+v, want allowed", res)
	}
	time.Sleep(250 * time.Millisecond)
	if n, err := c.Exists(t.Context(), redisKey).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS after the bucket refilled = %d, %v; want the key expired", n, err)
	}
	if res := peek(t, l, key, r); !res.Allowed || res.Remaining != 2 || res.Reset != 0 {
		t.Errorf("Peek after refill = %+v, want a full bucket", res)
	}
}

// TestRedisSharedAcrossInstances checks that two limiters on one prefix, as
// two Gatehouse instances would be, draw from the same buckets.
func TestRedisSharedAcrossInstances(t *testing.T) {
	c := testRedis(t)
	prefix := testPrefix(t, c)
	a, b := ratelimit.NewRedis(c, prefix), ratelimit.NewRedis(c, prefix)
	r := ratelimit.Rate{N: 3, Per: time.Hour}
	allow(t, a, "k", r, 2)
	if res := allow(t, b, "k", r, 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("second instance: %+v, want the last token", res)
	}
	if res := allow(t, a, "k", r, 1); res.Allowed {
		t.Fatalf("first instance after the burst: %+v, want refused", res)
	}
}

func TestRedisUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	l := ratelimit.NewRedis(c, "gatehouse-test:")

	res, err := l.Allow(t.Context(), "k", perMinute10, 1)
	if !errors.Is(err, ratelimit.ErrUnavailable) || res.Allowed {
		t.Errorf("Allow = %+v, %v; want refused with ErrUnavailable", res, err)
	}
	if _, err := l.Peek(t.Context(), "k", perMinute10); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("Peek error = %v, want ErrUnavailable", err)
	}
	if err := l.Reset(t.Context(), "k"); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("Reset error = %v, want ErrUnavailable", err)
	}
	// Unlimited rates need no Redis, so they keep working.
	if res, err := l.Allow(t.Context(), "k", ratelimit.Rate{}, 1); err != nil || !res.Allowed {
		t.Errorf("unlimited Allow = %+v, %v; want allowed", res, err)
	}
}
