package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestReplayPruner runs the pruner at chosen times against real rotations:
// nothing goes within the grace (a retry still gets the very same
// response), then each replay goes once the grace and the margin have
// passed since the pruner first saw it, oldest first, and the rotated tokens
// stay.
func TestReplayPruner(t *testing.T) {
	st := storetest.NewSQLite(t)
	sys := newBenchSystem(t, st) // reuse grace 10 s
	ctx := context.Background()
	refresh := func(rt string) *oauth.TokenResponse {
		t.Helper()
		resp, err := sys.svc.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: rt})
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		return resp
	}
	hasSuccessor := func(rt string) bool {
		t.Helper()
		tok, err := st.GetRefreshToken(ctx, oauth.RefreshKeyOf(rt))
		if err != nil {
			t.Fatalf("the rotated token is gone: %v", err)
		}
		if tok.RotatedAt == nil {
			t.Fatal("the token no longer reads back rotated")
		}
		return tok.Successor != nil
	}
	rt1 := sys.signIn(t, 1)[0]
	r2 := refresh(rt1)
	pruner := sys.svc.NewReplayPruner(time.Second)
	t0 := time.Now()
	prune := func(at time.Time, want int) {
		t.Helper()
		n, err := pruner.Prune(ctx, at)
		if err != nil || n != want {
			t.Fatalf("Prune at +%s = %d, %v; want %d", at.Sub(t0), n, err, want)
		}
	}

	prune(t0, 0)
	prune(t0.Add(11*time.Second), 0) // grace 10 s + margin 1 s not yet over
	if again := refresh(rt1); again.AccessToken != r2.AccessToken || again.RefreshToken != r2.RefreshToken {
		t.Fatal("a retry within the grace did not get the very same response")
	}
	r3 := refresh(r2.RefreshToken) // a second rotation, after the first was noted

	prune(t0.Add(11*time.Second+time.Millisecond), 1)
	if hasSuccessor(rt1) || !hasSuccessor(r2.RefreshToken) {
		t.Fatal("the first prune should drop the first rotation's replay and keep the second's")
	}
	prune(t0.Add(15*time.Second), 0)
	prune(t0.Add(22*time.Second+3*time.Millisecond), 1)
	if hasSuccessor(r2.RefreshToken) {
		t.Fatal("the second rotation's replay outlived its grace")
	}
	// The family goes on: the newest token still refreshes.
	refresh(r3.RefreshToken)
}
