// Package storetest is the conformance suite of the store: Run checks every
// method of every domain Store interface against a real database, so the
// SQLite and PostgreSQL implementations are held to one behaviour. It also
// makes fresh, migrated test stores (NewSQLite, NewPostgres, Engines) for the
// tests of other packages.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/user"
)

// test is one conformance case; it gets a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s *store.Store)
}

// Run runs the conformance suite, each case in parallel on its own fresh
// store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) *store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Store", storeTests},
		{"Tx", txTests},
		{"Users", userTests},
		{"OneTimeTokens", oneTimeTokenTests},
		{"RBAC", rbacTests},
		{"Clients", clientTests},
		{"Sessions", sessionTests},
		{"SigningKeys", signingKeyTests},
		{"Revocations", revocationTests},
		{"Audit", auditTests},
		{"MFA", mfaTests},
		{"APIKeys", apiKeyTests},
		{"Sealed", sealedTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t))
				})
			}
		})
	}
}

// t0 is the suite's reference time: microsecond precision, which both
// engines keep exactly.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func ptr[T any](v T) *T { return &v }

var errSentinel = errors.New("storetest: sentinel")

// wantErr fails t unless err is an *apperr.Error of kind k and code (any
// code when code is "").
func wantErr(t *testing.T, err error, k apperr.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v %s", k, code)
	}
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("err = %T %v, want an *apperr.Error (%v %s)", err, err, k, code)
	}
	if e.Kind != k || (code != "" && e.Code != code) {
		t.Fatalf("err = %v, want %v %s", err, k, code)
	}
}

// must fails t when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newUser returns an active user named name with an email of that name.
func newUser(name string) *user.User {
	return &user.User{
		ID:           "usr_" + name,
		Username:     name,
		UsernameKey:  name,
		Email:        name + "@example.com",
		EmailKey:     name + "@example.com",
		DisplayName:  "User " + name,
		Status:       user.StatusActive,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", // #nosec G101 -- a fake hash fixture
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

// createUsers creates users named by names.
func createUsers(t *testing.T, s *store.Store, names ...string) {
	t.Helper()
	for _, n := range names {
		must(t, s.CreateUser(t.Context(), newUser(n)))
	}
}

// inParallel runs fn(i) for i in [0, n) in n goroutines at once and returns
// their errors.
func inParallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("panic: %v", r)
				}
			}()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}

var storeTests = []test{
	{"PingAndEngine", func(t *testing.T, s *store.Store) {
		must(t, s.Ping(t.Context()))
		if e := s.Engine(); e != store.EngineSQLite && e != store.EnginePostgres {
			t.Fatalf("Engine() = %q", e)
		}
	}},
	{"MigrateIsIdempotent", func(t *testing.T, s *store.Store) {
		must(t, s.Migrate(t.Context()))
		cur, latest, err := s.SchemaVersion(t.Context())
		must(t, err)
		if cur != latest || cur == 0 {
			t.Fatalf("SchemaVersion = %d, %d; want equal and positive", cur, latest)
		}
	}},
	{"CanceledContextIsNotADriverError", func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.GetUser(ctx, "usr_x")
		if _, ok := apperr.As(err); !ok || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %T %v, want an *apperr.Error wrapping context.Canceled", err, err)
		}
	}},
}

// ChainKey is the audit chain key the conformance suite and other tests use.
var ChainKey = []byte("gatehouse test audit chain key!!")

// keysetPages pages through a list ordered by (created time, id): list
// gets the position after which to start (zero at first), each next call
// starts after the last item of the page before, until an empty page or
// more than maxPages pages. It returns the ids of each page.
func keysetPages[T any](t *testing.T, maxPages int, list func(afterCreated time.Time, afterID string) ([]T, error), key func(T) (time.Time, string)) [][]string {
	t.Helper()
	var pages [][]string
	var afterCreated time.Time
	var afterID string
	for len(pages) <= maxPages {
		l, err := list(afterCreated, afterID)
		must(t, err)
		if len(l) == 0 {
			break
		}
		page := make([]string, len(l))
		for i, x := range l {
			_, page[i] = key(x)
		}
		pages = append(pages, page)
		afterCreated, afterID = key(l[len(l)-1])
	}
	return pages
}
