package apikey_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
)

func TestVerifyCodes(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		fresh := func() (*apikey.Key, string) {
			return e.create(t, apikey.NewKey{Permissions: []string{"documents:read", "reviews:read"}})
		}
		for _, tc := range []struct {
			name string
			// setup makes the key to verify; it returns the raw key.
			setup    func(t *testing.T) string
			required []string
			code     string
			hasKey   bool
		}{
			{"valid", func(*testing.T) string { _, raw := fresh(); return raw }, []string{"documents:read"}, "", true},
			{"valid without permissions asked", func(*testing.T) string { _, raw := fresh(); return raw }, nil, "", true},
			{"malformed", func(*testing.T) string { _, raw := fresh(); return corrupt(raw) }, nil, apikey.Malformed, false},
			{"not found", func(*testing.T) string { raw, _ := apikey.Generate("gk"); return raw }, nil, apikey.NotFound, false},
			{"revoked", func(t *testing.T) string {
				k, raw := fresh()
				if err := e.svc.Revoke(ctx, k.ID); err != nil {
					t.Fatal(err)
				}
				return raw
			}, nil, apikey.Revoked, true},
			{"expired", func(t *testing.T) string {
				_, raw := e.create(t, apikey.NewKey{ExpiresIn: time.Minute})
				wantCode(t, verify(t, e.svc, raw), "")
				e.clock.advance(time.Minute)
				return raw
			}, nil, apikey.Expired, true},
			{"suspended", func(t *testing.T) string {
				_, raw := e.create(t, apikey.NewKey{OwnerID: "usr_bob"})
				e.owners.set("usr_bob", false, "documents:read")
				e.clock.advance(apikey.DefaultCacheTTL)
				return raw
			}, nil, apikey.Suspended, true},
			{"insufficient", func(*testing.T) string { _, raw := fresh(); return raw }, []string{"documents:read", "reviews:write"},
				apikey.InsufficientPermissions, true},
			{"rate limited", func(t *testing.T) string {
				_, raw := e.create(t, apikey.NewKey{RateLimit: &apikey.Limit{Limit: 1, Window: time.Hour}})
				wantCode(t, verify(t, e.svc, raw), "")
				return raw
			}, nil, apikey.RateLimited, true},
			{"usage exceeded", func(t *testing.T) string {
				_, raw := e.create(t, apikey.NewKey{Quota: ptr(int64(1))})
				wantCode(t, verify(t, e.svc, raw), "")
				return raw
			}, nil, apikey.UsageExceeded, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := verify(t, e.svc, tc.setup(t), tc.required...)
				wantCode(t, res, tc.code)
				if (res.Key != nil) != tc.hasKey {
					t.Fatalf("result key = %+v, want one: %v", res.Key, tc.hasKey)
				}
				if res.Key != nil && (res.Key.Hash != "" || res.Key.PrevHash != "") {
					t.Fatal("the result carries the key's hash")
				}
			})
		}
	})
}

func TestMalformedAndUnknownKeysSpareTheStore(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	_, raw := e.create(t, apikey.NewKey{})
	for _, bad := range []string{"", "gk_", raw + "x", strings.ToUpper(raw), corrupt(raw), "Bearer " + raw} {
		wantCode(t, verify(t, e.svc, bad), apikey.Malformed)
	}
	if n := e.cs.byHash.Load(); n != 0 {
		t.Fatalf("malformed keys read the store %d times", n)
	}
	unknown, _ := apikey.Generate("gk")
	for range 5 {
		wantCode(t, verify(t, e.svc, unknown), apikey.NotFound)
		wantCode(t, verify(t, e.svc, raw), "")
	}
	if n := e.cs.byHash.Load(); n != 2 {
		t.Fatalf("5 verifications each of one unknown and one valid key read the store %d times, want 2", n)
	}
}

func TestOwnerDemotion(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		_, raw := e.create(t, apikey.NewKey{Permissions: []string{"documents:read", "reviews:write"}})
		res := verify(t, e.svc, raw, "reviews:write")
		wantCode(t, res, "")
		if d := cmp.Diff([]string{"documents:read", "reviews:write"}, res.Permissions); d != "" {
			t.Fatalf("permissions (-want +got):\n%s", d)
		}
		e.owners.set(alice, true, "documents:read", "reviews:read")
		e.clock.advance(apikey.DefaultCacheTTL)
		res = verify(t, e.svc, raw, "reviews:write")
		wantCode(t, res, apikey.InsufficientPermissions)
		if d := cmp.Diff([]string{"documents:read"}, res.Permissions); d != "" {
			t.Fatalf("permissions after demotion (-want +got):\n%s", d)
		}
		wantCode(t, verify(t, e.svc, raw, "documents:read"), "")
		// A key never gains what it was not given, even if the owner has it.
		wantCode(t, verify(t, e.svc, raw, "reviews:read"), apikey.InsufficientPermissions)
		e.owners.set(alice, false, alicePerms...)
		e.clock.advance(apikey.DefaultCacheTTL)
		wantCode(t, verify(t, e.svc, raw), apikey.Suspended)
		e.owners.set(alice, true, alicePerms...)
		e.clock.advance(apikey.DefaultCacheTTL)
		wantCode(t, verify(t, e.svc, raw, "reviews:write"), "")
	})
}

func TestQuota(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		k, raw := e.create(t, apikey.NewKey{Quota: ptr(int64(3)), Permissions: []string{"documents:read"}})
		wantCode(t, verify(t, e.svc, raw), "")
		// Refused verifications do not use the quota.
		wantCode(t, verify(t, e.svc, raw, "users:manage"), apikey.InsufficientPermissions)
		got, err := e.svc.Get(ctx, k.ID)
		if err != nil || *got.QuotaRemaining != 2 {
			t.Fatalf("quota remaining before a flush = %v, %v; want 2", *got.QuotaRemaining, err)
		}
		if err := e.svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		stored, err := e.st.GetKey(ctx, k.ID)
		if err != nil || *stored.QuotaRemaining != 2 {
			t.Fatalf("stored quota remaining = %v, %v; want 2", *stored.QuotaRemaining, err)
		}
		wantCode(t, verify(t, e.svc, raw), "")
		wantCode(t, verify(t, e.svc, raw), "")
		wantCode(t, verify(t, e.svc, raw), apikey.UsageExceeded)
		if err := e.svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Another instance reads the exhausted quota.
		wantCode(t, verify(t, e.newService(), raw), apikey.UsageExceeded)
	})
}

func TestQuotaUnderConcurrency(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	_, raw := e.create(t, apikey.NewKey{Quota: ptr(int64(50))})
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				res, err := e.svc.Verify(context.Background(), raw, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				codes[res.Code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if d := cmp.Diff(map[string]int{"": 50, apikey.UsageExceeded: 110}, codes); d != "" {
		t.Fatalf("outcomes (-want +got):\n%s", d)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	_, raw := e.create(t, apikey.NewKey{RateLimit: &apikey.Limit{Limit: 2, Window: time.Minute}})
	_, other := e.create(t, apikey.NewKey{RateLimit: &apikey.Limit{Limit: 2, Window: time.Minute}})
	for i := range 2 {
		res := verify(t, e.svc, raw)
		wantCode(t, res, "")
		if res.RateLimit == nil || res.RateLimit.Limit != 2 || res.RateLimit.Remaining != 1-i {
			t.Fatalf("verification %d: rate limit %+v", i, res.RateLimit)
		}
	}
	res := verify(t, e.svc, raw)
	wantCode(t, res, apikey.RateLimited)
	if res.RateLimit == nil || res.RateLimit.Allowed || res.RateLimit.RetryAfter <= 0 {
		t.Fatalf("refusal: rate limit %+v", res.RateLimit)
	}
	// Each key has its own bucket; keys without a limit report none.
	wantCode(t, verify(t, e.svc, other), "")
	_, unlimited := e.create(t, apikey.NewKey{})
	if res := verify(t, e.svc, unlimited); res.RateLimit != nil {
		t.Fatalf("unlimited key: rate limit %+v", res.RateLimit)
	}
}

func TestVerifyFailsClosed(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	_, raw := e.create(t, apikey.NewKey{})
	e.cs.failReads.Store(true)
	res, err := e.svc.Verify(t.Context(), raw, nil)
	if !apperr.Is(err, apperr.KindUnavailable) || res.Valid {
		t.Fatalf("Verify with the store down = %+v, %v; want a 503 error", res, err)
	}
	// The failure is not cached.
	e.cs.failReads.Store(false)
	wantCode(t, verify(t, e.svc, raw), "")
}

func TestSmallCache(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	svc := apikey.NewService(apikey.Options{CacheSize: 1}, e.cs, e.owners, nil, nil)
	svc.SetClock(e.clock.now)
	var raws []string
	for range 40 {
		_, raw := e.create(t, apikey.NewKey{})
		raws = append(raws, raw)
	}
	for range 2 {
		for _, raw := range raws {
			wantCode(t, verify(t, svc, raw), "")
		}
	}
}

func TestUnknownKeysDoNotEvictKnownOnes(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	svc := apikey.NewService(apikey.Options{CacheSize: 256}, e.cs, e.owners, nil, nil)
	svc.SetClock(e.clock.now)
	_, raw := e.create(t, apikey.NewKey{})
	wantCode(t, verify(t, svc, raw), "")
	const flood = 1000
	for range flood {
		unknown, _ := apikey.Generate("gk")
		wantCode(t, verify(t, svc, unknown), apikey.NotFound)
	}
	wantCode(t, verify(t, svc, raw), "")
	if n := e.cs.byHash.Load(); n != 1+flood {
		t.Fatalf("store reads = %d, want %d (the known key read once)", n, 1+flood)
	}
}
