package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// sealedKind is one kind of value sealed under the master key, as a
// master-key rotation lists and rewrites it.
type sealedKind struct {
	name string
	// seed stores a value sealed as sealed for name and returns its ID.
	seed   func(t *testing.T, s *store.Store, name, sealed string) string
	list   func(ctx context.Context, s *store.Store, after string, limit int) ([]secret.Stored, error)
	update func(ctx context.Context, s *store.Store, id, old, fresh string) (bool, error)
	// get reads the sealed value of id back, and checks that nothing else
	// of its row changed.
	get func(t *testing.T, s *store.Store, id string) string
}

var sealedKinds = []sealedKind{
	{
		name: "SigningKeys",
		seed: func(t *testing.T, s *store.Store, name, sealed string) string {
			k := &oauth.SigningKey{KID: "k_" + name, Alg: "ES256", PrivateSealed: sealed, PublicJWK: []byte(`{}`), CreatedAt: t0}
			if name == "a" { // long expired: it is listed too
				k.ActivatedAt, k.RetiredAt, k.ExpiresAt = ptr(t0), ptr(t0), ptr(t0)
			}
			must(t, s.InsertSigningKey(t.Context(), k))
			return k.KID
		},
		list: func(ctx context.Context, s *store.Store, after string, limit int) ([]secret.Stored, error) {
			return s.ListSealedSigningKeys(ctx, after, limit)
		},
		update: func(ctx context.Context, s *store.Store, id, old, fresh string) (bool, error) {
			return s.UpdateSigningKeySealed(ctx, id, old, fresh)
		},
		get: func(t *testing.T, s *store.Store, id string) string {
			keys, err := s.ListSigningKeys(t.Context(), time.Time{})
			must(t, err)
			for _, k := range keys {
				if k.KID == id {
					if k.Alg != "ES256" || k.CreatedAt != t0 || string(k.PublicJWK) != `{}` {
						t.Fatalf("signing key %s changed: %+v", id, k)
					}
					return k.PrivateSealed
				}
			}
			t.Fatalf("no signing key %s", id)
			return ""
		},
	},
	{
		name: "TOTP",
		seed: func(t *testing.T, s *store.Store, name, sealed string) string {
			createUsers(t, s, name)
			id := "usr_" + name
			must(t, s.PutPendingTOTP(t.Context(), pendingTOTP(id, sealed)))
			if name != "b" { // pending and confirmed enrolments alike
				ok, err := s.ConfirmTOTP(t.Context(), id, sealed, 100, t0)
				wantOK(t, "ConfirmTOTP", ok, err, true)
			}
			return id
		},
		list: func(ctx context.Context, s *store.Store, after string, limit int) ([]secret.Stored, error) {
			return s.ListSealedTOTP(ctx, after, limit)
		},
		update: func(ctx context.Context, s *store.Store, id, old, fresh string) (bool, error) {
			return s.UpdateTOTPSealed(ctx, id, old, fresh)
		},
		get: func(t *testing.T, s *store.Store, id string) string {
			got, err := s.GetTOTP(t.Context(), id)
			must(t, err)
			if confirmed := id != "usr_b"; got.Confirmed != confirmed || (confirmed && got.LastStep != 100) || got.CreatedAt != t0 {
				t.Fatalf("enrolment of %s changed: %+v", id, got)
			}
			return got.SecretSealed
		},
	},
	{
		name: "SealedSecrets",
		seed: func(t *testing.T, s *store.Store, name, sealed string) string {
			_, err := s.PutSealedSecretIfAbsent(t.Context(), name+"_key", sealed, t0)
			must(t, err)
			return name + "_key"
		},
		list: func(ctx context.Context, s *store.Store, after string, limit int) ([]secret.Stored, error) {
			return s.ListSealedSecrets(ctx, after, limit)
		},
		update: func(ctx context.Context, s *store.Store, id, old, fresh string) (bool, error) {
			return s.UpdateSealedSecret(ctx, id, old, fresh)
		},
		get: func(t *testing.T, s *store.Store, id string) string {
			v, err := s.SealedSecret(t.Context(), id)
			must(t, err)
			return v
		},
	},
}

// sealedTests are the store methods a master-key rotation uses, for each
// kind of sealed value.
var sealedTests = func() []test {
	var out []test
	for _, k := range sealedKinds {
		out = append(out,
			test{k.name + "/ListInPagesAndUpdate", func(t *testing.T, s *store.Store) { sealedListAndUpdate(t, s, k) }},
			test{k.name + "/UpdateRolledBack", func(t *testing.T, s *store.Store) { sealedRolledBack(t, s, k) }},
		)
	}
	return out
}()

func sealedListAndUpdate(t *testing.T, s *store.Store, k sealedKind) {
	ctx := t.Context()
	var want []secret.Stored
	for _, name := range []string{"c", "a", "b"} {
		want = append(want, secret.Stored{ID: k.seed(t, s, name, "sealed-"+name), Sealed: "sealed-" + name})
	}
	want[0], want[1], want[2] = want[1], want[2], want[0] // by ID: a, b, c
	first, err := k.list(ctx, s, "", 2)
	must(t, err)
	if d := cmp.Diff(want[:2], first); d != "" {
		t.Fatalf("first page (-want +got):\n%s", d)
	}
	rest, err := k.list(ctx, s, first[1].ID, 2)
	must(t, err)
	if d := cmp.Diff(want[2:], rest); d != "" {
		t.Fatalf("second page (-want +got):\n%s", d)
	}
	none, err := k.list(ctx, s, want[2].ID, 2)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("after the last: %v", none)
	}

	b := want[1]
	ok, err := k.update(ctx, s, b.ID, "sealed-other", "fresh-b")
	wantOK(t, "update from a value the row does not hold", ok, err, false)
	if got := k.get(t, s, b.ID); got != b.Sealed {
		t.Fatalf("after a refused update: %q", got)
	}
	ok, err = k.update(ctx, s, b.ID, b.Sealed, "fresh-b")
	wantOK(t, "update", ok, err, true)
	ok, err = k.update(ctx, s, "none", "sealed-none", "fresh")
	wantOK(t, "update of an unknown row", ok, err, false)
	for _, v := range want {
		wantSealed := v.Sealed
		if v.ID == b.ID {
			wantSealed = "fresh-b"
		}
		if got := k.get(t, s, v.ID); got != wantSealed {
			t.Fatalf("%s holds %q, want %q", v.ID, got, wantSealed)
		}
	}
}

func sealedRolledBack(t *testing.T, s *store.Store, k sealedKind) {
	id := k.seed(t, s, "a", "sealed-a")
	err := s.InTx(t.Context(), func(ctx context.Context) error {
		list, err := k.list(ctx, s, "", 10)
		must(t, err)
		ok, err := k.update(ctx, s, list[0].ID, list[0].Sealed, "fresh-a")
		wantOK(t, "update", ok, err, true)
		return errSentinel
	})
	if !errors.Is(err, errSentinel) {
		t.Fatalf("InTx = %v", err)
	}
	if got := k.get(t, s, id); got != "sealed-a" {
		t.Fatalf("after the rollback the row holds %q", got)
	}
}
