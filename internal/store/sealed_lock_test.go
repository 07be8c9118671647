package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

// TestSealedRowsLockedForRotation: the sealed values a master-key rotation
// lists inside its transaction cannot be changed by another instance (a
// process of its own on the same database) until it commits, so its update
// of what it read applies, and the other instance's write then finds the
// row changed.
func TestSealedRowsLockedForRotation(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	kinds := []struct {
		name   string
		seed   func(ctx context.Context, s *store.Store) error // stores row "a" sealed as "sealed-a"
		list   func(ctx context.Context, s *store.Store) ([]secret.Stored, error)
		update func(s *store.Store, ctx context.Context, id, old, fresh string) (bool, error)
		other  string // the other instance's write over "sealed-a"
	}{
		{"signing keys",
			func(ctx context.Context, s *store.Store) error {
				return s.InsertSigningKey(ctx, &oauth.SigningKey{KID: "a", Alg: "ES256", PrivateSealed: "sealed-a", PublicJWK: []byte(`{}`), CreatedAt: t0})
			},
			func(ctx context.Context, s *store.Store) ([]secret.Stored, error) {
				return s.ListSealedSigningKeys(ctx, "", 10)
			},
			(*store.Store).UpdateSigningKeySealed,
			`UPDATE signing_keys SET private_sealed = 'other' WHERE kid = 'a' AND private_sealed = 'sealed-a'`},
		{"TOTP secrets",
			func(ctx context.Context, s *store.Store) error {
				u := &user.User{ID: "a", Username: "a", UsernameKey: "a", Email: "a@example.com", EmailKey: "a@example.com",
					Status: user.StatusActive, CreatedAt: t0, UpdatedAt: t0}
				if err := s.CreateUser(ctx, u); err != nil {
					return err
				}
				return s.PutPendingTOTP(ctx, &mfa.TOTP{UserID: "a", SecretSealed: "sealed-a", CreatedAt: t0})
			},
			func(ctx context.Context, s *store.Store) ([]secret.Stored, error) {
				return s.ListSealedTOTP(ctx, "", 10)
			},
			(*store.Store).UpdateTOTPSealed,
			`UPDATE mfa_totp SET secret_sealed = 'other' WHERE user_id = 'a' AND secret_sealed = 'sealed-a'`},
		{"sealed secrets",
			func(ctx context.Context, s *store.Store) error {
				_, err := s.PutSealedSecretIfAbsent(ctx, "a", "sealed-a", t0)
				return err
			},
			func(ctx context.Context, s *store.Store) ([]secret.Stored, error) {
				return s.ListSealedSecrets(ctx, "", 10)
			},
			(*store.Store).UpdateSealedSecret,
			`UPDATE sealed_secrets SET sealed = 'other' WHERE name = 'a' AND sealed = 'sealed-a'`},
	}
	for engine, newStore := range storetest.Engines(t) {
		for _, k := range kinds {
			t.Run(engine+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				if err := k.seed(t.Context(), s); err != nil {
					t.Fatal(err)
				}
				type result struct {
					n   int64
					err error
				}
				other := make(chan result, 1)
				err := s.InTx(t.Context(), func(ctx context.Context) error {
					list, err := k.list(ctx, s)
					if err != nil || len(list) != 1 {
						t.Fatalf("list = %v, %v", list, err)
					}
					go func() {
						n, err := s.ExecAsAnotherInstance(t.Context(), k.other)
						other <- result{n, err}
					}()
					time.Sleep(300 * time.Millisecond) // the other instance's chance to write first
					ok, err := k.update(s, ctx, list[0].ID, list[0].Sealed, "fresh-a")
					if err != nil || !ok {
						t.Errorf("the rotation's update = %v, %v; want it to apply", ok, err)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if r := <-other; r.err != nil || r.n != 0 {
					t.Fatalf("the other instance's write = %d rows, %v; want it to wait and then change nothing", r.n, r.err)
				}
				list, err := k.list(t.Context(), s)
				if err != nil || len(list) != 1 || list[0].Sealed != "fresh-a" {
					t.Fatalf("after the commit: %v, %v", list, err)
				}
			})
		}
	}
}
