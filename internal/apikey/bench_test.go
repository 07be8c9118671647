package apikey_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// wallClock is production's clock: the cache expires and reloads as it
// would in a server.
func wallClock() time.Time { return time.Now().Truncate(time.Microsecond) }

func newBenchEnv(b *testing.B) *env {
	b.Helper()
	e := newEnv(b, storetest.BenchEngines(b)[store.EngineSQLite](b))
	e.svc.SetClock(wallClock)
	return e
}

// BenchmarkVerifyCached is the hot path: a valid key whose record is
// cached, with and without usage counting (SPEC budget: counting adds < 5%).
func BenchmarkVerifyCached(b *testing.B) {
	e := newBenchEnv(b)
	_, raw := e.create(b, apikey.NewKey{Permissions: []string{"documents:read"}})
	_, limited := e.create(b, apikey.NewKey{Permissions: []string{"documents:read"},
		RateLimit: &apikey.Limit{Limit: 1_000_000_000, Window: time.Second}, Quota: ptr(int64(1_000_000_000_000))})
	required := []string{"documents:read"}
	for _, bc := range []struct {
		name     string
		raw      string
		counting bool
	}{
		{"counting", raw, true},
		{"no-counting", raw, false},
		{"ratelimit+quota", limited, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e.svc.SetCounting(bc.counting)
			ctx := context.Background()
			verify(b, e.svc, bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				if res, err := e.svc.Verify(ctx, bc.raw, required); err != nil || !res.Valid {
					b.Fatal(res.Code, err)
				}
			}
		})
	}
}

// BenchmarkVerifyCachedParallel is the hot path from every core at once,
// all on one key (the most contended case).
func BenchmarkVerifyCachedParallel(b *testing.B) {
	e := newBenchEnv(b)
	_, raw := e.create(b, apikey.NewKey{Permissions: []string{"documents:read"}})
	required := []string{"documents:read"}
	verify(b, e.svc, raw)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if res, err := e.svc.Verify(ctx, raw, required); err != nil || !res.Valid {
				b.Error(res.Code, err)
				return
			}
		}
	})
}

// BenchmarkVerifyStoreSize verifies 1,000 distinct valid keys in turn among
// 1,000 or 1,000,000 stored keys (SQLite): "cached" is the server's steady
// state, "uncached" reads the store on every verification (the slow path,
// an index lookup). The million-key case takes a minute or so to seed and
// is skipped with -short.
func BenchmarkVerifyStoreSize(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			if n > 1_000 && testing.Short() {
				b.Skip("seeding a million keys is slow; run without -short")
			}
			e := newBenchEnv(b)
			raws := seedKeys(b, e, n)
			ctx := context.Background()
			for _, mode := range []string{"cached", "uncached"} {
				b.Run(mode, func(b *testing.B) {
					e.svc.SetCacheTTL(apikey.DefaultCacheTTL)
					if mode == "uncached" {
						e.svc.SetCacheTTL(0)
					}
					for _, raw := range raws {
						verify(b, e.svc, raw)
					}
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if res, err := e.svc.Verify(ctx, raws[i%len(raws)], nil); err != nil || !res.Valid {
							b.Fatal(res.Code, err)
						}
						i++
					}
				})
			}
		})
	}
}

// seedKeys stores n keys: 1,000 real ones (returned) through the service,
// the rest as bare rows in large transactions.
func seedKeys(b *testing.B, e *env, n int) []string {
	b.Helper()
	start := time.Now()
	ctx := context.Background()
	var raws []string
	for range min(n, 1_000) {
		_, raw := e.create(b, apikey.NewKey{Permissions: []string{"documents:read"}})
		raws = append(raws, raw)
	}
	const chunk = 50_000
	for from := len(raws); from < n; from += chunk {
		err := e.st.InTx(ctx, func(ctx context.Context) error {
			for i := from; i < min(from+chunk, n); i++ {
				t := t0.Add(time.Duration(i) * time.Microsecond)
				k := &apikey.Key{ID: fmt.Sprintf("key_seed%09d", i), Name: "seed", Prefix: "gk", Hint: "gk_seed",
					OwnerID: alice, Permissions: []string{"documents:read"}, Status: apikey.StatusActive,
					CreatedAt: t, UpdatedAt: t, Hash: secret.Hash(fmt.Sprint("seed", i))}
				if err := e.st.CreateKey(ctx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n > 1_000 {
		b.Logf("seeded %d keys in %v", n, time.Since(start).Round(time.Second))
	}
	return raws
}
