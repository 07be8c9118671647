package oauth_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func jwksKIDs(t *testing.T, ks *signing.KeySet) map[string]bool {
	t.Helper()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range doc.Keys {
		if k.D != "" {
			t.Fatal("the JWKS publishes a private key")
		}
		out[k.KID] = true
	}
	return out
}

func newKeyManager(t *testing.T, st *store.Store, alg string, rotation time.Duration) *oauth.KeyManager {
	t.Helper()
	kr, err := secret.NewKeyring(secret.RandomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	return oauth.NewKeyManager(st, kr, audit.NewRecorder(st, storetest.ChainKey), alg, rotation, 15*time.Minute)
}

// TestKeyRotation: the next key is published before it signs, a rotation
// promotes it, and the retired key stays published so its tokens verify.
func TestKeyRotation(t *testing.T) {
	for name, newStore := range storetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			m := newKeyManager(t, st, "ES256", 720*time.Hour)
			if _, err := m.Ensure(ctx, false); err != nil {
				t.Fatal(err)
			}
			first := m.Signer().KID()
			kids := jwksKIDs(t, m.KeySet())
			if len(kids) != 2 || !kids[first] {
				t.Fatalf("after the first start the JWKS must hold the current and the next key, got %v", kids)
			}
			var next string
			for k := range kids {
				if k != first {
					next = k
				}
			}
			tok, err := m.Signer().Sign(signing.Claims{Issuer: "x", Subject: "s", Expiry: time.Now().Add(time.Minute).Unix()}, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			if rotated, err := m.Ensure(ctx, false); err != nil || rotated {
				t.Fatalf("a fresh key must not rotate: %v %v", rotated, err)
			}
			if rotated, err := m.Ensure(ctx, true); err != nil || !rotated {
				t.Fatalf("forced rotation: %v %v", rotated, err)
			}
			if got := m.Signer().KID(); got != next {
				t.Fatalf("rotation must promote the pre-published key %s, signs with %s", next, got)
			}
			kids = jwksKIDs(t, m.KeySet())
			if len(kids) != 3 || !kids[first] || !kids[next] {
				t.Fatalf("after rotation the JWKS must hold retired, current and next, got %v", kids)
			}
			var c signing.Claims
			if err := m.KeySet().Verify(tok, "at+jwt", &c); err != nil {
				t.Fatalf("a token of the retired key must still verify: %v", err)
			}
			// Another instance sharing the store sees the rotation on load.
			other := newKeyManager(t, st, "ES256", 720*time.Hour)
			if err := other.Load(ctx); err == nil {
				t.Fatal("another master key must not decrypt the signing key")
			}
		})
	}
}

// TestKeyRotationOnSchedule: a key older than the rotation period is replaced
// by the next Ensure (the periodic maintenance call).
func TestKeyRotationOnSchedule(t *testing.T) {
	st := storetest.NewSQLite(t)
	m := newKeyManager(t, st, "EdDSA", time.Nanosecond)
	ctx := context.Background()
	if _, err := m.Ensure(ctx, false); err != nil {
		t.Fatal(err)
	}
	first := m.Signer().KID()
	if rotated, err := m.Ensure(ctx, false); err != nil || !rotated || m.Signer().KID() == first {
		t.Fatalf("a key past its rotation period must rotate: %v %v", rotated, err)
	}
	if m.Signer().Alg() != "EdDSA" {
		t.Fatalf("alg %s", m.Signer().Alg())
	}
}

// TestAlgorithmChange: switching GATEHOUSE_SIGNING_ALG rotates to a key of the new algorithm.
func TestAlgorithmChange(t *testing.T) {
	st := storetest.NewSQLite(t)
	kr, _ := secret.NewKeyring(secret.RandomBytes(32))
	ctx := context.Background()
	es := oauth.NewKeyManager(st, kr, audit.NewRecorder(st, storetest.ChainKey), "ES256", 720*time.Hour, 15*time.Minute)
	if _, err := es.Ensure(ctx, false); err != nil {
		t.Fatal(err)
	}
	ps := oauth.NewKeyManager(st, kr, audit.NewRecorder(st, storetest.ChainKey), "PS256", 720*time.Hour, 15*time.Minute)
	if _, err := ps.Ensure(ctx, false); err != nil {
		t.Fatal(err)
	}
	if ps.Signer().Alg() != "PS256" {
		t.Fatalf("after the switch the signer uses %s", ps.Signer().Alg())
	}
}
