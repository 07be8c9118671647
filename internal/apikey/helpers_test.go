package apikey_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

// t0 is the tests' start time: inside an hour, microsecond precision.
var t0 = time.Date(2025, 6, 1, 10, 20, 30, 123456000, time.UTC)

// clock is a settable time shared by the services of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// owners is the owner directory the app builds from the user and rbac
// services, as a map the tests change.
type owners struct {
	mu sync.Mutex
	m  map[string]ownerState
}

type ownerState struct {
	perms  []string
	active bool
}

func (o *owners) Owner(_ context.Context, id string) ([]string, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.m[id]
	if !ok {
		return nil, false, apperr.NotFound(apperr.CodeUserNotFound, "user not found")
	}
	return slices.Clone(s.perms), s.active, nil
}

func (o *owners) set(id string, active bool, perms ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[id] = ownerState{perms: perms, active: active}
}

// countingStore counts the store reads of verification and can fail them
// and flushes, as a database that went away does.
type countingStore struct {
	apikey.Store
	byHash    atomic.Int64
	failReads atomic.Bool
	failFlush atomic.Bool
}

func (c *countingStore) GetKeyByHash(ctx context.Context, hash string, now time.Time) (*apikey.Key, error) {
	c.byHash.Add(1)
	if c.failReads.Load() {
		return nil, apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the database is unavailable")
	}
	return c.Store.GetKeyByHash(ctx, hash, now)
}

func (c *countingStore) FlushUsage(ctx context.Context, b []apikey.UsageDelta) error {
	if c.failFlush.Load() {
		return apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the database is unavailable")
	}
	return c.Store.FlushUsage(ctx, b)
}

// env is a Service on a real store with one active owner, alice, who holds
// documents:read, reviews:read and reviews:write.
type env struct {
	st     *store.Store
	cs     *countingStore
	owners *owners
	clock  *clock
	svc    *apikey.Service
}

const alice = "usr_alice"

var alicePerms = []string{"documents:read", "reviews:read", "reviews:write"}

func newEnv(t testing.TB, st *store.Store) *env {
	t.Helper()
	for _, name := range []string{"alice", "bob"} {
		u := &user.User{ID: "usr_" + name, Username: name, UsernameKey: name, Status: user.StatusActive,
			CreatedAt: t0, UpdatedAt: t0}
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{st: st, cs: &countingStore{Store: st}, owners: &owners{m: map[string]ownerState{}}, clock: &clock{t: t0}}
	e.owners.set(alice, true, alicePerms...)
	e.owners.set("usr_bob", true, "documents:read")
	e.svc = e.newService()
	return e
}

// newService returns another instance on the same store, owners and clock,
// with its own cache and counters (another node of a cluster).
func (e *env) newService() *apikey.Service {
	rec := audit.NewRecorder(e.st, storetest.ChainKey)
	svc := apikey.NewService(apikey.Options{}, e.cs, e.owners, ratelimit.NewMemory(0), rec)
	svc.SetClock(e.clock.now)
	return svc
}

// create makes a key of alice from in (Name and OwnerID filled when empty).
func (e *env) create(t testing.TB, in apikey.NewKey) (*apikey.Key, string) {
	t.Helper()
	if in.Name == "" {
		in.Name = "test key"
	}
	if in.OwnerID == "" {
		in.OwnerID = alice
	}
	k, raw, err := e.svc.Create(context.Background(), in)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return k, raw
}

// verify runs Verify and fails t on an error.
func verify(t testing.TB, svc *apikey.Service, raw string, perms ...string) apikey.VerifyResult {
	t.Helper()
	res, err := svc.Verify(context.Background(), raw, perms)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// wantCode fails t unless res has code ("" for valid).
func wantCode(t testing.TB, res apikey.VerifyResult, code string) {
	t.Helper()
	if res.Code != code || res.Valid != (code == "") {
		t.Fatalf("Verify = valid %v code %q, want code %q", res.Valid, res.Code, code)
	}
}

// engines runs fn on a fresh env per available engine.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for name, newStore := range storetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, newStore(t)))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func newSQLite(t *testing.T) *store.Store { t.Helper(); return storetest.NewSQLite(t) }

// corrupt changes the last character of raw.
func corrupt(raw string) string {
	last := byte('0')
	if raw[len(raw)-1] == last {
		last = '1'
	}
	return raw[:len(raw)-1] + string(last)
}
