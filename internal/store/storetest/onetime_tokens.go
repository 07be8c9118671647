package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/user"
)

// ottFixture returns a token of kind for the user, valid for a day from t0.
func ottFixture(hash string, kind user.TokenKind, userID string) *user.OneTimeToken {
	return &user.OneTimeToken{
		Hash: hash, Kind: kind, UserID: userID, ClientID: "gatehouse", Data: `{"k":"v"}`,
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

var oneTimeTokenTests = []test{
	{"GetAndConsume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		tok := ottFixture("h1", user.TokenActivation, "usr_alice")
		must(t, s.CreateOneTimeToken(ctx, tok))

		got, err := s.GetOneTimeToken(ctx, "h1", user.TokenActivation, t0)
		must(t, err)
		if d := cmp.Diff(tok, got); d != "" {
			t.Fatalf("GetOneTimeToken (-want +got):\n%s", d)
		}
		now := t0.Add(time.Minute)
		got, err = s.ConsumeOneTimeToken(ctx, "h1", user.TokenActivation, now)
		must(t, err)
		want := *tok
		want.UsedAt = &now
		if d := cmp.Diff(&want, got); d != "" {
			t.Fatalf("ConsumeOneTimeToken (-want +got):\n%s", d)
		}
		_, err = s.ConsumeOneTimeToken(ctx, "h1", user.TokenActivation, now)
		wantErr(t, err, apperr.KindNotFound, "")
		_, err = s.GetOneTimeToken(ctx, "h1", user.TokenActivation, now)
		wantErr(t, err, apperr.KindNotFound, "")
	}},
	{"NotFound", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.CreateOneTimeToken(ctx, ottFixture("h1", user.TokenMFA, "usr_alice")))
		for _, tc := range []struct {
			name string
			hash string
			kind user.TokenKind
			now  time.Time
		}{
			{"unknown hash", "nope", user.TokenMFA, t0},
			{"other kind", "h1", user.TokenActivation, t0},
			{"expired", "h1", user.TokenMFA, t0.Add(24 * time.Hour)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.GetOneTimeToken(ctx, tc.hash, tc.kind, tc.now)
				wantErr(t, err, apperr.KindNotFound, "")
				_, err = s.ConsumeOneTimeToken(ctx, tc.hash, tc.kind, tc.now)
				wantErr(t, err, apperr.KindNotFound, "")
			})
		}
		// None of the failed attempts consumed it.
		_, err := s.ConsumeOneTimeToken(ctx, "h1", user.TokenMFA, t0)
		must(t, err)
	}},
	{"CreateForUnknownUser", func(t *testing.T, s *store.Store) {
		err := s.CreateOneTimeToken(t.Context(), ottFixture("h1", user.TokenMFA, "usr_none"))
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	}},
	{"DeleteByUserAndKind", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		must(t, s.CreateOneTimeToken(ctx, ottFixture("a1", user.TokenActivation, "usr_alice")))
		must(t, s.CreateOneTimeToken(ctx, ottFixture("a2", user.TokenActivation, "usr_alice")))
		must(t, s.CreateOneTimeToken(ctx, ottFixture("a3", user.TokenMFA, "usr_alice")))
		must(t, s.CreateOneTimeToken(ctx, ottFixture("b1", user.TokenActivation, "usr_bob")))
		must(t, s.DeleteOneTimeTokens(ctx, "usr_alice", user.TokenActivation))
		for _, tc := range []struct {
			hash string
			kind user.TokenKind
			gone bool
		}{
			{"a1", user.TokenActivation, true},
			{"a2", user.TokenActivation, true},
			{"a3", user.TokenMFA, false},
			{"b1", user.TokenActivation, false},
		} {
			_, err := s.GetOneTimeToken(ctx, tc.hash, tc.kind, t0)
			if gone := apperr.Is(err, apperr.KindNotFound); gone != tc.gone {
				t.Errorf("token %s: gone = %v (err %v), want %v", tc.hash, gone, err, tc.gone)
			}
		}
	}},
	{"ConcurrentConsumeHasOneWinner", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.CreateOneTimeToken(ctx, ottFixture("h1", user.TokenMFA, "usr_alice")))
		errs := inParallel(20, func(int) error {
			_, err := s.ConsumeOneTimeToken(ctx, "h1", user.TokenMFA, t0.Add(time.Second))
			return err
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !apperr.Is(err, apperr.KindNotFound):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d consumers won, want exactly 1", won)
		}
	}},
}
