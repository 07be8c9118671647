package ratelimit_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// benchRate never runs dry during a benchmark, so every call takes the same path.
var benchRate = ratelimit.Rate{N: 1_000_000_000, Per: time.Hour}

func BenchmarkMemoryAllowOneKey(b *testing.B) {
	m := ratelimit.NewMemory(0)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Allow(ctx, "login-ip:203.0.113.7", benchRate, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryAllowManyKeysParallel spreads goroutines over 10,000 keys,
// as per-IP and per-username limits do.
func BenchmarkMemoryAllowManyKeysParallel(b *testing.B) {
	m := ratelimit.NewMemory(0)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprint("login-user:user", i)
	}
	ctx := b.Context()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919) // each goroutine starts elsewhere
		for pb.Next() {
			i++
			if _, err := m.Allow(ctx, keys[i%uint64(len(keys))], benchRate, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	c := testRedis(b)
	l := ratelimit.NewRedis(c, testPrefix(b, c))
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, "login-ip:203.0.113.7", benchRate, 1); err != nil {
			b.Fatal(err)
		}
	}
}
