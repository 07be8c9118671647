package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

func TestMemory(t *testing.T) {
	suite(t, func(t *testing.T) (ratelimit.Limiter, func(time.Duration)) {
		clock := newFakeClock()
		return ratelimit.NewMemoryAt(0, clock.Now), clock.Advance
	})
}

func TestMemoryStaysWithinMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 15, 100, 1000} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			clock := newFakeClock()
			m := ratelimit.NewMemoryAt(maxKeys, clock.Now)
			for i := range 20 * maxKeys {
				if res := allow(t, m, fmt.Sprint("k", i), perMinute10, 1); !res.Allowed {
					t.Fatalf("new key %d refused: %+v", i, res)
				}
				if got := m.Len(); got > maxKeys {
					t.Fatalf("after %d keys Memory holds %d buckets, want at most %d", i+1, got, maxKeys)
				}
			}
		})
	}
}

func TestMemoryDropsFullBuckets(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemoryAt(0, clock.Now)
	for i := range 1000 {
		allow(t, m, fmt.Sprint("k", i), perMinute10, 1+i%10)
	}
	if got := m.Len(); got != 1000 {
		t.Fatalf("Len = %d, want 1000", got)
	}
	clock.Advance(30 * time.Second) // buckets that took 1 to 5 tokens are full
	if got := m.Len(); got != 500 {
		t.Errorf("Len after 30s = %d, want the 500 buckets that are not full", got)
	}
	clock.Advance(30 * time.Second)
	if got := m.Len(); got != 0 {
		t.Errorf("Len after a minute = %d, want 0: idle full buckets must not be kept", got)
	}
}

func TestMemoryEvictsTheBucketNearestToFull(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemoryAt(16, clock.Now) // a single shard of 16
	allow(t, m, "victim", perMinute10, 10)    // full again in 60s
	for i := range 100 {
		allow(t, m, fmt.Sprint("spray", i), perMinute10, 1) // full again in 6s
		clock.Advance(time.Millisecond)
	}
	if got := m.Len(); got != 16 {
		t.Errorf("Len = %d, want 16", got)
	}
	if res := peek(t, m, "victim", perMinute10); res.Allowed {
		t.Errorf("a spray of new keys evicted the exhausted bucket: %+v", res)
	}
}

func TestMemoryZeroAllocs(t *testing.T) {
	m := ratelimit.NewMemory(0)
	r := ratelimit.Rate{N: 1_000_000_000, Per: time.Hour}
	allow(t, m, "k", r, 1)
	// AllocsPerRun counts the whole process's allocations, averaged down:
	// enough runs keep a background goroutine of another test (the Redis
	// client's redial of TestRedisUnavailable, for up to a second after
	// it ends) from adding one per run, while a single allocation in Allow
	// still shows as 1.
	if n := testing.AllocsPerRun(20_000, func() { allow(t, m, "k", r, 1) }); n != 0 {
		t.Errorf("Allow on an existing key allocates %v times, want 0", n)
	}
}
