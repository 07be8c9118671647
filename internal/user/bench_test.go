package user_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse/internal/user"
)

const benchPassword = "purple tractor evening river"

var benchSalt = []byte("0123456789abcdef")

// BenchmarkHasherHash hashes through the bounded pool at the default
// parameters (m=19456 KiB, t=2, p=1); BenchmarkArgon2IDKey is the bare
// argon2.IDKey call at the same parameters, so the difference is the
// pool, the salt and the PHC encoding.
func BenchmarkHasherHash(b *testing.B) {
	h := user.NewHasher(user.DefaultHashParams(), runtime.GOMAXPROCS(0), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, benchPassword); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArgon2IDKey(b *testing.B) {
	p := user.DefaultHashParams()
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte(benchPassword), benchSalt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
	}
}

// BenchmarkHasherVerify is the sign-in path: one verification of a stored
// hash through the pool.
func BenchmarkHasherVerify(b *testing.B) {
	h := user.NewHasher(user.DefaultHashParams(), runtime.GOMAXPROCS(0), 0)
	ctx := context.Background()
	stored, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, benchPassword, stored); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkHasherHashParallel keeps every worker of a GOMAXPROCS-sized pool
// busy, as a burst of sign-ins does, with and without the soft memory limit
// `gatehouse serve` sets (workers × m + 16 MiB, internal/app/serve.go
// limitMemory). Under that limit each hash's 19 MiB block is handed back to
// the OS and faulted in again by the next hash; compare the two ns/op.
// BenchmarkArgon2IDKeyParallel is the bare call at the same concurrency.
func BenchmarkHasherHashParallel(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	p := user.DefaultHashParams()
	for _, tc := range []struct {
		name  string
		limit int64
	}{
		{"nolimit", -1},
		{"memlimit=pool+16MiB", int64(workers)*int64(p.MemoryKiB)<<10 + 16<<20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.limit > 0 {
				old := debug.SetMemoryLimit(tc.limit)
				b.Cleanup(func() { debug.SetMemoryLimit(old) })
			}
			h := user.NewHasher(p, workers, 4*workers)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Hash(ctx, benchPassword); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkArgon2IDKeyParallel(b *testing.B) {
	p := user.DefaultHashParams()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			argon2.IDKey([]byte(benchPassword), benchSalt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
		}
	})
}
