package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

var sessionTests = []test{
	{"CreateAndGet", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
		x.RevokedAt, x.RevokeReason = ptr(t0.Add(time.Minute)), "logout"
		must(t, s.CreateSession(ctx, x, rt))
		got, err := s.GetSession(ctx, "ses_1")
		must(t, err)
		if d := cmp.Diff(x, got); d != "" {
			t.Fatalf("GetSession (-want +got):\n%s", d)
		}
		gotRT, err := s.GetRefreshToken(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if d := cmp.Diff(rt, gotRT); d != "" {
			t.Fatalf("GetRefreshToken (-want +got):\n%s", d)
		}
	}},
	{"CreateErrors", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		x, rt := sessionFixture("ses_1", "usr_none", "rt_1")
		wantErr(t, s.CreateSession(ctx, x, rt), apperr.KindNotFound, apperr.CodeUserNotFound)
		_, err := s.GetSession(ctx, "ses_1")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeSessionNotFound)
		_, err = s.GetRefreshToken(ctx, rk("ses_1", 1, "rt_1"))
		wantErr(t, err, apperr.KindNotFound, "")
		wantErr(t, s.InsertRefreshToken(ctx, &oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_none", CreatedAt: t0}),
			apperr.KindNotFound, apperr.CodeSessionNotFound)
	}},
	{"AdvanceSession", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
		must(t, s.CreateSession(ctx, x, rt))
		now := t0.Add(time.Hour)
		idle := now.Add(24 * time.Hour)
		adv := func(from, to, client string, at time.Time) (*oauth.SessionAdvance, bool) {
			t.Helper()
			a := &oauth.SessionAdvance{ID: "ses_1", ClientID: client, From: from, To: to, Now: at, IdleUntil: idle}
			ok, err := s.AdvanceSession(ctx, a)
			must(t, err)
			return a, ok
		}
		// Not the current token, another client, past the idle expiry: no change.
		for _, c := range []struct {
			from, client string
			at           time.Time
		}{{"rt_0", oauth.BuiltInClientID, now}, {"rt_1", "cli_other", now}, {"rt_1", oauth.BuiltInClientID, x.IdleExpiresAt}} {
			if _, ok := adv(c.from, "rt_2", c.client, c.at); ok {
				t.Fatalf("AdvanceSession from %s for %s at %v = true, want false", c.from, c.client, c.at)
			}
		}
		a, ok := adv("rt_1", "rt_2", oauth.BuiltInClientID, now)
		if !ok || a.UserID != "usr_alice" || a.Generation != 2 {
			t.Fatalf("AdvanceSession = %v, user %q, generation %d; want true, usr_alice, 2", ok, a.UserID, a.Generation)
		}
		got, err := s.GetSession(ctx, "ses_1")
		must(t, err)
		want := *x
		want.CurrentHash, want.Generation, want.LastUsedAt, want.IdleExpiresAt = "rt_2", 2, now, idle
		if d := cmp.Diff(&want, got); d != "" {
			t.Fatalf("session after AdvanceSession (-want +got):\n%s", d)
		}
		// The old token no longer advances it; a revoked session never does.
		if _, ok := adv("rt_1", "rt_3", oauth.BuiltInClientID, now); ok {
			t.Fatal("AdvanceSession from the replaced token = true")
		}
		_, err = s.UpdateSession(ctx, "ses_1", func(x *oauth.Session) error {
			x.RevokedAt = &now
			return nil
		})
		must(t, err)
		if _, ok := adv("rt_2", "rt_3", oauth.BuiltInClientID, now); ok {
			t.Fatal("AdvanceSession of a revoked session = true")
		}
		// Unknown session: false, no error.
		if ok, err := s.AdvanceSession(ctx, &oauth.SessionAdvance{ID: "ses_none", From: "a", To: "b", Now: now, IdleUntil: idle}); ok || err != nil {
			t.Fatalf("AdvanceSession of an unknown session = %v, %v", ok, err)
		}
	}},
	{"RotateRefreshTokenInOneWrite", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		rt, now, succ := liveSession(t, s)
		old := *rt
		old.RotatedAt, old.Successor = &now, succ
		next := &oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_1", Generation: rt.Generation + 1, CreatedAt: now}
		must(t, s.InTx(ctx, func(ctx context.Context) error { return s.RotateRefreshToken(ctx, &old, next) }))
		replays, err := s.LastRefreshReplayID(ctx)
		must(t, err)
		// The old token reads back rotated, at its successor's creation,
		// with the sealed response: from the successor's row.
		got, err := s.GetRefreshToken(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if d := cmp.Diff(&old, got); d != "" {
			t.Fatalf("rotated token (-want +got):\n%s", d)
		}
		got, err = s.GetRefreshToken(ctx, rk("ses_1", 2, "rt_2"))
		must(t, err)
		if d := cmp.Diff(next, got); d != "" {
			t.Fatalf("successor token (-want +got):\n%s", d)
		}
		f, err := s.GetRefreshFamily(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if d := cmp.Diff(&old, f.Token); d != "" {
			t.Fatalf("rotated token in its family (-want +got):\n%s", d)
		}
		refused := []struct {
			name      string
			old, next oauth.RefreshToken
		}{
			{"old token of another session", oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_other", Generation: 2, RotatedAt: &now, Successor: succ},
				oauth.RefreshToken{Hash: "rt_3", SessionID: "ses_1", Generation: 3, CreatedAt: now}},
			{"old token not stored", oauth.RefreshToken{Hash: "rt_none", SessionID: "ses_1", Generation: 2, RotatedAt: &now, Successor: succ},
				oauth.RefreshToken{Hash: "rt_3", SessionID: "ses_1", Generation: 3, CreatedAt: now}},
			{"second successor of one generation", old,
				oauth.RefreshToken{Hash: "rt_4", SessionID: "ses_1", Generation: 2, CreatedAt: now}},
			{"generation skipped", oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_1", Generation: 2, RotatedAt: &now, Successor: succ},
				oauth.RefreshToken{Hash: "rt_5", SessionID: "ses_1", Generation: 4, CreatedAt: now}},
			{"rotation time not the successor's creation", oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_1", Generation: 2, RotatedAt: &t0, Successor: succ},
				oauth.RefreshToken{Hash: "rt_6", SessionID: "ses_1", Generation: 3, CreatedAt: now}},
			{"no sealed successor", oauth.RefreshToken{Hash: "rt_2", SessionID: "ses_1", Generation: 2, RotatedAt: &now},
				oauth.RefreshToken{Hash: "rt_7", SessionID: "ses_1", Generation: 3, CreatedAt: now}},
		}
		for _, c := range refused {
			if err := s.RotateRefreshToken(ctx, &c.old, &c.next); !apperr.Is(err, apperr.KindInternal) {
				t.Fatalf("%s: RotateRefreshToken = %v, want internal", c.name, err)
			}
			if _, err := s.GetRefreshToken(ctx, rk(c.next.SessionID, c.next.Generation, c.next.Hash)); !apperr.Is(err, apperr.KindNotFound) {
				t.Fatalf("%s: %s after the refused rotation: %v, want not found", c.name, c.next.Hash, err)
			}
		}
		// Nothing refused changed the family or left a replay behind.
		if last, err := s.LastRefreshReplayID(ctx); err != nil || last != replays {
			t.Fatalf("newest replay after refused rotations = %d, %v; want %d", last, err, replays)
		}
		got, err = s.GetRefreshToken(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if d := cmp.Diff(&old, got); d != "" {
			t.Fatalf("rt_1 after refused rotations (-want +got):\n%s", d)
		}
		got, err = s.GetRefreshToken(ctx, rk("ses_1", 2, "rt_2"))
		must(t, err)
		if d := cmp.Diff(next, got); d != "" {
			t.Fatalf("rt_2 after refused rotations (-want +got):\n%s", d)
		}
	}},
	{"RefreshReplaysPruned", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		rt, now, succ := liveSession(t, s)
		if last, err := s.LastRefreshReplayID(ctx); err != nil || last != 0 {
			t.Fatalf("LastRefreshReplayID with none = %d, %v; want 0", last, err)
		}
		// Three rotations: rt_1 → rt_2 → rt_3 → rt_4.
		ids := make([]int64, 0, 3)
		prev := *rt
		for i := 2; i <= 4; i++ {
			at := now.Add(time.Duration(i) * time.Second)
			old := prev
			old.RotatedAt, old.Successor = &at, append(succ, byte(i))
			next := &oauth.RefreshToken{Hash: fmt.Sprintf("rt_%d", i), SessionID: "ses_1", Generation: prev.Generation + 1, CreatedAt: at}
			must(t, s.InTx(ctx, func(ctx context.Context) error { return s.RotateRefreshToken(ctx, &old, next) }))
			id, err := s.LastRefreshReplayID(ctx)
			must(t, err)
			if len(ids) > 0 && id <= ids[len(ids)-1] {
				t.Fatalf("replay ids %v then %d: want increasing", ids, id)
			}
			ids = append(ids, id)
			prev = *next
		}
		// Up to the second replay, one at a time: the oldest goes first.
		for i, want := range []int{1, 1, 0} {
			n, err := s.DeleteRefreshReplays(ctx, ids[1], 1)
			must(t, err)
			if n != want {
				t.Fatalf("DeleteRefreshReplays(up to the second, limit 1), call %d = %d, want %d", i+1, n, want)
			}
			if i == 0 {
				// The oldest went first: rt_1 lost its successor, rt_2 not yet.
				got, err := s.GetRefreshToken(ctx, rk("ses_1", 2, "rt_2"))
				must(t, err)
				if got.Successor == nil {
					t.Fatal("the second replay went before the first")
				}
			}
		}
		for i, hash := range []string{"rt_1", "rt_2", "rt_3"} {
			got, err := s.GetRefreshToken(ctx, rk("ses_1", i+1, hash))
			must(t, err)
			at := now.Add(time.Duration(i+2) * time.Second)
			if got.RotatedAt == nil || !got.RotatedAt.Equal(at) {
				t.Fatalf("%s rotated at %v, want %v: the rotation stays after its replay is gone", hash, got.RotatedAt, at)
			}
			if kept := i == 2; (got.Successor != nil) != kept {
				t.Fatalf("%s successor %q, want kept = %v", hash, got.Successor, kept)
			}
		}
		// The token rows stay, so a reuse is still recognised.
		f, err := s.GetRefreshFamily(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if f.Token.Successor != nil || f.Session.ID != "ses_1" {
			t.Fatalf("family of rt_1 after pruning: %+v", f.Token)
		}
	}},
	{"GetRefreshFamily", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
		must(t, s.CreateSession(ctx, x, rt))
		f, err := s.GetRefreshFamily(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		wantSess, err := s.GetSession(ctx, "ses_1")
		must(t, err)
		wantUser, err := s.GetUser(ctx, "usr_alice")
		must(t, err)
		wantTok, err := s.GetRefreshToken(ctx, rk("ses_1", 1, "rt_1"))
		must(t, err)
		if d := cmp.Diff(wantTok, f.Token); d != "" {
			t.Fatalf("token (-want +got):\n%s", d)
		}
		if d := cmp.Diff(wantSess, f.Session); d != "" {
			t.Fatalf("session (-want +got):\n%s", d)
		}
		if d := cmp.Diff(wantUser, f.User); d != "" {
			t.Fatalf("user (-want +got):\n%s", d)
		}
		// The row is found by session and generation, and then only with
		// its hash; a token of the older form is found by hash alone, and
		// this one is not of that form.
		for _, k := range []oauth.RefreshKey{rk("ses_1", 1, "rt_none"), rk("ses_1", 2, "rt_1"), rk("ses_2", 1, "rt_1"),
			rk("ses_1", 1, "rt_1x"), rk("ses_1", 1, "rt_"), {Hash: "rt_1"}} {
			_, err = s.GetRefreshFamily(ctx, k)
			wantErr(t, err, apperr.KindNotFound, "")
			_, err = s.GetRefreshToken(ctx, k)
			wantErr(t, err, apperr.KindNotFound, "")
		}
	}},
	{"UpdateErrors", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
		must(t, s.CreateSession(ctx, x, rt))
		_, err := s.UpdateSession(ctx, "ses_none", func(*oauth.Session) error { return nil })
		wantErr(t, err, apperr.KindNotFound, apperr.CodeSessionNotFound)
		_, err = s.UpdateSession(ctx, "ses_1", func(x *oauth.Session) error {
			x.Generation = 99
			return errSentinel
		})
		if err != errSentinel {
			t.Fatalf("UpdateSession = %v, want fn's error as is", err)
		}
		got, err := s.GetSession(ctx, "ses_1")
		must(t, err)
		if d := cmp.Diff(x, got); d != "" {
			t.Fatalf("session changed by an aborted update (-want +got):\n%s", d)
		}
	}},
	{"ConcurrentUpdatesSerialize", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
		x.Generation = 0
		must(t, s.CreateSession(ctx, x, rt))
		errs := inParallel(20, func(int) error {
			return s.InTx(ctx, func(ctx context.Context) error {
				_, err := s.UpdateSession(ctx, "ses_1", func(x *oauth.Session) error {
					x.Generation++
					return nil
				})
				return err
			})
		})
		for _, err := range errs {
			must(t, err)
		}
		got, err := s.GetSession(ctx, "ses_1")
		must(t, err)
		if got.Generation != 20 {
			t.Fatalf("Generation = %d after 20 concurrent increments", got.Generation)
		}
	}},
	{"ListAndRevoke", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		now := t0.Add(time.Hour)
		mk := func(id, userID string, created time.Time, edit func(*oauth.Session)) {
			x, rt := sessionFixture(id, userID, "rt_"+id)
			x.CreatedAt = created
			if edit != nil {
				edit(x)
			}
			must(t, s.CreateSession(ctx, x, rt))
		}
		mk("old", "usr_alice", t0, nil)
		mk("new", "usr_alice", t0.Add(time.Minute), nil)
		mk("mid", "usr_alice", t0.Add(time.Second), nil)
		mk("revoked", "usr_alice", t0, func(x *oauth.Session) { x.RevokedAt = &t0 })
		mk("expired", "usr_alice", t0, func(x *oauth.Session) { x.ExpiresAt = now })
		mk("idle", "usr_alice", t0, func(x *oauth.Session) { x.IdleExpiresAt = now.Add(-time.Second) })
		mk("bobs", "usr_bob", t0, nil)
		ids := func(l []*oauth.Session) []string {
			var out []string
			for _, x := range l {
				out = append(out, x.ID)
			}
			return out
		}
		l, err := s.ListSessions(ctx, "usr_alice", now)
		must(t, err)
		if d := cmp.Diff([]string{"new", "mid", "old"}, ids(l)); d != "" {
			t.Fatalf("ListSessions (-want +got):\n%s", d)
		}

		revoked, err := s.RevokeUserSessions(ctx, "usr_alice", "mid", "password_changed", now)
		must(t, err)
		if d := cmp.Diff([]string{"expired", "idle", "new", "old"}, slices.Sorted(slices.Values(revoked))); d != "" {
			t.Fatalf("RevokeUserSessions (-want +got):\n%s", d)
		}
		l, err = s.ListSessions(ctx, "usr_alice", now)
		must(t, err)
		if d := cmp.Diff([]string{"mid"}, ids(l)); d != "" {
			t.Fatalf("ListSessions after revoke (-want +got):\n%s", d)
		}
		got, err := s.GetSession(ctx, "old")
		must(t, err)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(now) || got.RevokeReason != "password_changed" {
			t.Fatalf("revoked session: %+v", got)
		}
		got, err = s.GetSession(ctx, "revoked") // already revoked: untouched
		must(t, err)
		if !got.RevokedAt.Equal(t0) || got.RevokeReason != "" {
			t.Fatalf("previously revoked session changed: %+v", got)
		}
		l, err = s.ListSessions(ctx, "usr_bob", now)
		must(t, err)
		if len(l) != 1 {
			t.Fatalf("bob's sessions: %v", ids(l))
		}
		revoked, err = s.RevokeUserSessions(ctx, "usr_bob", "", "disabled", now)
		must(t, err)
		if d := cmp.Diff([]string{"bobs"}, revoked); d != "" {
			t.Fatalf("RevokeUserSessions without except (-want +got):\n%s", d)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		cutoff := t0.Add(24 * time.Hour)
		for i, edit := range []func(*oauth.Session){
			func(x *oauth.Session) { x.ExpiresAt = cutoff.Add(-time.Second) },      // gone
			func(x *oauth.Session) { x.IdleExpiresAt = cutoff.Add(-time.Second) },  // gone
			func(x *oauth.Session) { x.RevokedAt = ptr(cutoff.Add(-time.Second)) }, // gone
			func(x *oauth.Session) { x.RevokedAt = ptr(cutoff.Add(time.Second)) },  // kept
			func(x *oauth.Session) {}, // kept
		} {
			x, rt := sessionFixture(fmt.Sprintf("ses_%d", i), "usr_alice", fmt.Sprintf("rt_%d", i))
			edit(x)
			must(t, s.CreateSession(ctx, x, rt))
		}
		n, err := s.DeleteExpiredSessions(ctx, cutoff)
		must(t, err)
		if n != 3 {
			t.Fatalf("DeleteExpiredSessions = %d, want 3", n)
		}
		for i := range 5 {
			_, err := s.GetSession(ctx, fmt.Sprintf("ses_%d", i))
			_, rtErr := s.GetRefreshToken(ctx, rk(fmt.Sprintf("ses_%d", i), 1, fmt.Sprintf("rt_%d", i)))
			if gone := i < 3; apperr.Is(err, apperr.KindNotFound) != gone || apperr.Is(rtErr, apperr.KindNotFound) != gone {
				t.Errorf("session %d: err %v, token err %v; want gone = %v", i, err, rtErr, gone)
			}
		}
	}},
}

// rk is the key of the token of that hash stored at session sid's
// generation gen.
func rk(sid string, gen int, hash string) oauth.RefreshKey {
	return oauth.RefreshKey{Hash: hash, SessionID: sid, Generation: gen}
}

// liveSession creates alice's session ses_1 with its first refresh token
// rt_1 and returns that token, a rotation time and a sealed successor.
func liveSession(t *testing.T, s *store.Store) (rt *oauth.RefreshToken, now time.Time, succ []byte) {
	t.Helper()
	createUsers(t, s, "alice")
	x, rt := sessionFixture("ses_1", "usr_alice", "rt_1")
	must(t, s.CreateSession(t.Context(), x, rt))
	return rt, t0.Add(time.Hour), []byte("sealed successor \x00\xff")
}
