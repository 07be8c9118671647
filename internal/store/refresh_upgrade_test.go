package store_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestRefreshTokensFromBeforeLocators: the tokens stored before refresh
// tokens named their family (migration 10) are found by their hash after the
// upgrade, rotated or not, and rotate into tokens found by session and
// generation; migration 10 also rolls back and forward with them in place.
func TestRefreshTokensFromBeforeLocators(t *testing.T) {
	for name, newStore := range storetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t)
			u := benchUser(1)
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			r, err := newRotator(ctx, s, u.ID, "ses_upgrade")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.rotate(ctx); err != nil { // generation 0 → 1
				t.Fatal(err)
			}
			if err := s.MigrateDownTo(ctx, 9); err != nil {
				t.Fatalf("migrate down to 9: %v", err)
			}
			if cur, _, err := s.SchemaVersion(ctx); err != nil || cur != 9 {
				t.Fatalf("schema version after rolling back = %d, %v; want 9", cur, err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate up again: %v", err)
			}
			h0, h1 := benchTokenHash("ses_upgrade", 0), benchTokenHash("ses_upgrade", 1)
			old, err := s.GetRefreshToken(ctx, oauth.RefreshKey{Hash: h0})
			if err != nil || old.Generation != 0 || old.RotatedAt == nil || old.Successor == nil {
				t.Fatalf("rotated token of the older form by hash: %+v, %v; want generation 0, rotated, with its successor", old, err)
			}
			f, err := s.GetRefreshFamily(ctx, oauth.RefreshKey{Hash: h1})
			if err != nil || f.Token.Generation != 1 || f.Token.RotatedAt != nil || f.Session.ID != "ses_upgrade" || f.User.ID != u.ID {
				t.Fatalf("current token of the older form by hash: %+v, %v", f, err)
			}
			if err := r.rotate(ctx); err != nil { // 1 → 2, found by session and generation
				t.Fatal(err)
			}
			if got, err := s.GetRefreshToken(ctx, oauth.RefreshKey{Hash: h1}); err != nil || got.RotatedAt == nil {
				t.Fatalf("token of the older form after its rotation: %+v, %v; want rotated", got, err)
			}
			h2 := benchTokenHash("ses_upgrade", 2)
			if _, err := s.GetRefreshToken(ctx, oauth.RefreshKey{Hash: h2}); !apperr.Is(err, apperr.KindNotFound) {
				t.Fatalf("new token by hash alone: %v, want not found (it names its family)", err)
			}
			if got, err := s.GetRefreshToken(ctx, oauth.RefreshKey{Hash: h2, SessionID: "ses_upgrade", Generation: 2}); err != nil || got.RotatedAt != nil {
				t.Fatalf("new token by session and generation: %+v, %v", got, err)
			}
		})
	}
}
