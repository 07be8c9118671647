package apikey_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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
// an index lookup). Each size is seeded once per process (about a minute
// for a million keys) and skipped with -short.
func BenchmarkVerifyStoreSize(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			if n > 1_000 && testing.Short() {
				b.Skip("seeding a million keys is slow; run without -short")
			}
			e, raws := seededEnv(b, n)
			ctx := context.Background()
			for _, mode := range []string{"cached", "uncached"} {
				b.Run(mode, func(b *testing.B) {
					svc := e.svc
					if mode == "uncached" { // a fresh instance: nothing cached, nothing kept
						svc = e.newService()
						svc.SetClock(wallClock)
						svc.SetCacheTTL(0)
					}
					for _, raw := range raws {
						verify(b, svc, raw)
					}
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if res, err := svc.Verify(ctx, raws[i%len(raws)], nil); err != nil || !res.Valid {
							b.Fatal(res.Code, err)
						}
						i++
					}
				})
			}
		})
	}
}

// seeded holds the stores BenchmarkVerifyStoreSize seeded, by size, so
// that -count=N seeds each once; TestMain closes and removes them. A test
// helper's cache across benchmarks: the one place package state is right.
var seeded struct {
	mu   sync.Mutex
	envs map[int]*env
	raws map[int][]string
	dirs []string
}

func TestMain(m *testing.M) {
	code := m.Run()
	seeded.mu.Lock()
	for _, e := range seeded.envs {
		_ = e.st.Close()
	}
	for _, d := range seeded.dirs {
		_ = os.RemoveAll(d)
	}
	seeded.mu.Unlock()
	os.Exit(code)
}

// seededEnv returns an env on a SQLite store holding n keys, and the
// secrets of 1,000 of them.
func seededEnv(b *testing.B, n int) (*env, []string) {
	b.Helper()
	seeded.mu.Lock()
	defer seeded.mu.Unlock()
	if e := seeded.envs[n]; e != nil {
		return e, seeded.raws[n]
	}
	dir, err := os.MkdirTemp("", "apikey-bench-")
	if err != nil {
		b.Fatal(err)
	}
	seeded.dirs = append(seeded.dirs, dir)
	st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(dir, store.SQLiteFile)})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		_ = st.Close()
		b.Fatal(err)
	}
	e := newEnv(b, st)
	e.svc.SetClock(wallClock)
	raws := seedKeys(b, e, n)
	if seeded.envs == nil {
		seeded.envs, seeded.raws = map[int]*env{}, map[int][]string{}
	}
	seeded.envs[n], seeded.raws[n] = e, raws
	return e, raws
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
		fmt.Fprintf(os.Stderr, "apikey bench: seeded %d keys in %v\n", n, time.Since(start).Round(time.Second))
	}
	return raws
}
