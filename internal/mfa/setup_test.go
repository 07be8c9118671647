package mfa_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

// t0 is the tests' reference time, at the start of a 30-second step.
var t0 = time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)

// fixture is a Service on a real store with a settable clock and one user,
// alice.
type fixture struct {
	svc   *mfa.Service
	st    *store.Store
	gets  *atomic.Int32 // GetTOTP calls reaching the store
	clock atomic.Pointer[time.Time]
}

const alice = "usr_alice"

// setTime moves the fixture's clock to at.
func (f *fixture) setTime(at time.Time) { f.clock.Store(&at) }

// userFlag stands in for the user package's SetTOTPEnabled, on the same
// store and in the caller's transaction.
type userFlag struct{ st *store.Store }

func (u userFlag) SetTOTPEnabled(ctx context.Context, userID string, on bool) error {
	_, err := u.st.UpdateUser(ctx, userID, func(x *user.User) error { x.TOTPEnabled = on; return nil })
	return err
}

// countingStore is the real store, counting GetTOTP calls so tests can
// tell that malformed input never reached storage.
type countingStore struct {
	*store.Store
	gets *atomic.Int32
}

func (c countingStore) GetTOTP(ctx context.Context, userID string) (*mfa.TOTP, error) {
	c.gets.Add(1)
	return c.Store.GetTOTP(ctx, userID)
}

// newFixture returns a fixture on st (a fresh store), its clock at t0,
// with users alice and bob.
func newFixture(t testing.TB, st *store.Store) *fixture {
	t.Helper()
	kr, err := secret.NewKeyring(secret.RandomBytes(secret.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, gets: new(atomic.Int32)}
	f.setTime(t0)
	f.svc = mfa.NewService(mfa.DefaultOptions(), countingStore{st, f.gets}, kr, audit.NewRecorder(st, storetest.ChainKey), userFlag{st})
	mfa.SetClock(f.svc, func() time.Time { return *f.clock.Load() })
	for _, name := range []string{"alice", "bob"} {
		err := st.CreateUser(context.Background(), &user.User{ID: "usr_" + name, Username: name, UsernameKey: name,
			Status: user.StatusActive, CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// engines runs fn once per available engine, each with a fresh fixture.
func engines(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	for name, newStore := range storetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(t, newStore(t)))
		})
	}
}

// oath returns the TOTP code of the base32 secret at at, computed by
// Debian's oathtool, an implementation independent of the one under test.
// Without oathtool the test is skipped, or fails when CI is set.
func oath(t *testing.T, b32 string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("oathtool is not installed (apt-get install oathtool)")
		}
		t.Skip("oathtool is not installed")
	}
	args := []string{"--totp", "-b", b32}
	if !at.IsZero() {
		args = append(args, "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	out, err := exec.CommandContext(t.Context(), path, args...).Output() // #nosec G204 -- fixed tool, test arguments
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// enroll begins and confirms alice's enrolment at the clock's time and
// returns the secret and the recovery codes.
func (f *fixture) enroll(t *testing.T) (string, []string) {
	t.Helper()
	e, err := f.svc.Begin(t.Context(), alice, "alice")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.Confirm(t.Context(), alice, oath(t, e.Secret, *f.clock.Load()))
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret, codes
}

// verify fails t unless Verify of code answers want.
func (f *fixture) verify(t *testing.T, code string, want bool) {
	t.Helper()
	ok, err := f.svc.Verify(t.Context(), alice, code)
	if err != nil {
		t.Fatalf("Verify(%q): %v", code, err)
	}
	if ok != want {
		t.Fatalf("Verify(%q) at %s = %v, want %v", code, f.clock.Load().Format(time.TimeOnly), ok, want)
	}
}
