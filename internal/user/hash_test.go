package user_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/user"
)

func cheapHasher() *user.Hasher {
	return user.NewHasher(user.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 1, 4)
}

// FuzzVerifyHash: ValidHash, the gate of imported hashes, never panics on
// any string and accepts only bcrypt or well-formed PHC argon2id strings.
func FuzzVerifyHash(f *testing.F) {
	for _, s := range []string{"", "$", "$$$$$", "$2a$", "$2b$04$leYRiUGYCf19T6uSl1/WmOhrnjbnWMPhGlT3dS1rBJKqCQW5t8l8y",
		"$2y$31$" + strings.Repeat("a", 53), "$2a$99$" + strings.Repeat("a", 53), "$2x$04$" + strings.Repeat("a", 53),
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=8,t=4294967295,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=8,t=1,p=999$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=-1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=8,t=1,p=1$$", "$argon2id$v=19$m=8,t=1,p=1$\x00$\r\n",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("a", 10000), "../../etc/shadow"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := user.ValidHash(s)
		if err == nil && !user.IsBcrypt(s) && !strings.HasPrefix(s, "$argon2id$v=19$") {
			t.Fatalf("ValidHash accepted %q", s)
		}
	})
}

// FuzzArgon2Bounds: a PHC argon2id string whose parameters could make one
// verification cost gigabytes or minutes is refused.
func FuzzArgon2Bounds(f *testing.F) {
	f.Add(uint64(19456), uint64(2), uint64(1))
	f.Add(uint64(1<<20), uint64(16), uint64(255))
	f.Add(uint64(1<<20+1), uint64(1), uint64(1))
	f.Add(uint64(8), uint64(17), uint64(1))
	f.Add(uint64(7), uint64(1), uint64(1))
	f.Add(uint64(8), uint64(1), uint64(0))
	f.Add(uint64(1<<32), uint64(1), uint64(1))
	f.Fuzz(func(t *testing.T, m, it, p uint64) {
		h := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5", m, it, p)
		inBounds := m >= 8 && m <= 1<<20 && it >= 1 && it <= 16 && p >= 1 && p <= 255
		if err := user.ValidHash(h); (err == nil) != inBounds {
			t.Fatalf("ValidHash(%q) = %v; in bounds: %v", h, err, inBounds)
		}
	})
}

// Hashes made by other software for imported users (SPEC §4): Python's
// bcrypt (the seeds' FastAPI stack) writes $2b$.
const (
	pythonBcrypt   = "$2b$04$leYRiUGYCf19T6uSl1/WmOhrnjbnWMPhGlT3dS1rBJKqCQW5t8l8y" // bcrypt.hashpw(b"correct horse battery staple", gensalt(4)), python3-bcrypt 3.2.2
	pythonBcrypt72 = "$2b$04$DtTeOIL4L235720UX0Fyr.DN9YmTWvSo8Uy45o2bb54Se7aqzbka2" // the same for b"x" * 72
)

func TestImportedBcryptHashes(t *testing.T) {
	ctx := t.Context()
	h := cheapHasher()
	verify := func(t *testing.T, password, hash string, wantOK bool) {
		t.Helper()
		ok, rehash, err := h.Verify(ctx, password, hash)
		if err != nil || ok != wantOK || rehash != wantOK {
			t.Errorf("Verify(%d-byte password, %.7s…) = ok %v, rehash %v, %v; want ok and rehash %v", len(password), hash, ok, rehash, err, wantOK)
		}
	}
	t.Run("python $2b$", func(t *testing.T) {
		if err := user.ValidHash(pythonBcrypt); err != nil {
			t.Fatal(err)
		}
		verify(t, "correct horse battery staple", pythonBcrypt, true)
		verify(t, "correct horse battery stapl", pythonBcrypt, false)
		verify(t, "Correct horse battery staple", pythonBcrypt, false)
	})
	t.Run("over 72 bytes never verifies", func(t *testing.T) {
		x72 := strings.Repeat("x", 72)
		verify(t, x72, pythonBcrypt72, true)
		verify(t, x72+"x", pythonBcrypt72, false) // bcrypt itself would accept it
		verify(t, x72+"anything at all", pythonBcrypt72, false)
	})
	t.Run("htpasswd $2y$", func(t *testing.T) {
		if _, err := exec.LookPath("htpasswd"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("htpasswd (Debian apache2-utils) is not installed")
			}
			t.Skip("htpasswd (Debian apache2-utils) is not installed")
		}
		const pw = "tangerine orbit kettle 42"
		long := strings.Repeat("y", 72) + "-the part bcrypt drops"
		for _, c := range []struct{ password, check string }{{pw, pw}, {long, long[:72]}} {
			out, err := exec.Command("htpasswd", "-nbB", "-C", "4", "someone", c.password).Output()
			if err != nil {
				t.Fatal(err)
			}
			hash := strings.TrimSpace(strings.TrimPrefix(string(out), "someone:"))
			if !strings.HasPrefix(hash, "$2y$04$") || user.ValidHash(hash) != nil {
				t.Fatalf("htpasswd made %q", hash)
			}
			verify(t, c.check, hash, true)
			verify(t, c.check+"!", hash, false)
			if c.password != c.check {
				verify(t, c.password, hash, false) // the password as typed is over 72 bytes
			}
		}
	})
}

// TestBcryptCostBounded: an imported bcrypt hash of absurd cost would hold
// a hashing worker for hours per sign-in (a denial of service by one row).
func TestBcryptCostBounded(t *testing.T) {
	for _, cost := range []string{"04", "10", "12"} {
		if err := user.ValidHash("$2b$" + cost + pythonBcrypt[6:]); err != nil {
			t.Errorf("cost %s refused: %v", cost, err)
		}
	}
	for _, cost := range []string{"20", "31"} {
		if err := user.ValidHash("$2b$" + cost + pythonBcrypt[6:]); err == nil {
			t.Errorf("cost %s accepted", cost)
		}
	}
	// A stored hash of cost 20 (about a minute of CPU) is refused before hashing.
	done := make(chan bool, 1)
	go func() {
		ok, _, err := cheapHasher().Verify(context.Background(), "correct horse battery staple", "$2b$20"+pythonBcrypt[6:])
		done <- ok || err == nil
	}()
	select {
	case accepted := <-done:
		if accepted {
			t.Error("a cost-20 bcrypt hash was verified")
		}
	case <-time.After(3 * time.Second):
		t.Error("Verify spent seconds on a cost-20 bcrypt hash instead of refusing it")
	}
}

// TestArgon2idRoundTrip: new hashes are argon2id PHC strings that verify,
// and a hash under other parameters asks for a rehash.
func TestArgon2idRoundTrip(t *testing.T) {
	ctx := t.Context()
	h := cheapHasher()
	hash, err := h.Hash(ctx, "tangerine orbit kettle 42")
	if err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") || user.ValidHash(hash) != nil {
		t.Fatalf("Hash = %q, %v", hash, err)
	}
	if ok, rehash, err := h.Verify(ctx, "tangerine orbit kettle 42", hash); !ok || rehash || err != nil {
		t.Errorf("Verify = %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "tangerine orbit kettle 43", hash); ok {
		t.Error("a wrong password verified")
	}
	other := user.NewHasher(user.HashParams{MemoryKiB: 128, Iterations: 1, Parallelism: 1}, 1, 1)
	if ok, rehash, err := other.Verify(ctx, "tangerine orbit kettle 42", hash); !ok || !rehash || err != nil {
		t.Errorf("Verify under new parameters = %v %v %v; want a rehash", ok, rehash, err)
	}
	if ok, rehash, err := h.Verify(ctx, "", ""); ok || rehash || err != nil {
		t.Errorf("Verify against no hash = %v %v %v", ok, rehash, err)
	}
}

// TestHasherAdmission: a full pool refuses with 503 hash_pool_full and a
// Retry-After, at once or after AdmitWait; a place freed meanwhile goes to
// the waiter; the waiters are bounded.
func TestHasherAdmission(t *testing.T) {
	full := func(wait time.Duration) (*user.Hasher, *user.Ticket) {
		h := user.NewHasher(user.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 1, 0) // one place
		h.AdmitWait = wait
		held, err := h.Admit(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return h, held
	}
	wantRefused := func(err error) {
		t.Helper()
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindUnavailable || e.Code != apperr.CodeHashPoolFull || e.RetryAfter <= 0 {
			t.Fatalf("Admit on a full pool = %v, want Unavailable hash_pool_full with a Retry-After", err)
		}
	}
	t.Run("at once", func(t *testing.T) {
		h, _ := full(0)
		_, err := h.Admit(t.Context())
		wantRefused(err)
	})
	t.Run("after the wait", func(t *testing.T) {
		h, _ := full(10 * time.Millisecond)
		_, err := h.Admit(t.Context())
		wantRefused(err)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		h, _ := full(time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := h.Admit(ctx)
		wantRefused(err)
	})
	t.Run("a freed place goes to the waiter", func(t *testing.T) {
		h, held := full(time.Hour)
		got := make(chan error, 1)
		go func() {
			tk, err := h.Admit(t.Context())
			if err == nil {
				tk.Release()
			}
			got <- err
		}()
		waitFor(t, func() bool { return h.AdmitWaiting() == 1 })
		held.Release()
		if err := <-got; err != nil {
			t.Fatalf("waiter = %v, want the freed place", err)
		}
	})
	t.Run("waiters bounded", func(t *testing.T) {
		h, held := full(time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 16 { // 16 per place
			wg.Go(func() { _, _ = h.Admit(ctx) })
		}
		waitFor(t, func() bool { return h.AdmitWaiting() == 16 })
		_, err := h.Admit(t.Context()) // the next does not wait an hour
		wantRefused(err)
		cancel()
		wg.Wait()
		held.Release()
	})
}

// waitFor polls cond until it holds (a guard against a hang, not a timing).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
	}
}
