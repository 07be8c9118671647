package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
)

// KeyManager keeps the signing keys: the current key signs, the next key is
// already published in the JWKS so verifiers know it before it signs, and
// retired keys stay published until every token they signed has expired.
// Keys live encrypted in the store; every instance reloads them on a timer,
// so a rotation by one instance or by the CLI reaches all.
type KeyManager struct {
	store    Store
	keyring  *secret.Keyring
	audit    *audit.Recorder
	alg      string
	rotation time.Duration
	// publishFor is how long a retired key stays in the JWKS: the longest
	// token lifetime plus clock leeway.
	publishFor time.Duration
	now        func() time.Time

	mu     sync.RWMutex
	signer *signing.Signer
	keyset *signing.KeySet
	kids   string // the loaded key ids, to skip reloads that change nothing
}

// NewKeyManager returns a manager for keys of alg rotated every rotation.
func NewKeyManager(store Store, keyring *secret.Keyring, rec *audit.Recorder, alg string, rotation, maxTokenTTL time.Duration) *KeyManager {
	return &KeyManager{store: store, keyring: keyring, audit: rec, alg: alg, rotation: rotation,
		publishFor: maxTokenTTL + 5*time.Minute, now: time.Now}
}

// Signer returns the signer of the current key.
func (m *KeyManager) Signer() *signing.Signer {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.signer
}

// KeySet returns the published keys.
func (m *KeyManager) KeySet() *signing.KeySet {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.keyset
}

// Ensure makes sure a current and a next key exist, rotates when the current
// key is due (or force is set, or the configured algorithm changed), expires
// retired keys, and reloads. It is safe to call from many instances at once.
func (m *KeyManager) Ensure(ctx context.Context, force bool) (rotated bool, err error) {
	err = m.store.InTx(ctx, func(ctx context.Context) error {
		if err := m.store.LockSigningKeys(ctx); err != nil {
			return err
		}
		now := m.now().UTC()
		keys, err := m.store.ListSigningKeys(ctx, now)
		if err != nil {
			return err
		}
		var current, next *SigningKey
		for _, k := range keys {
			switch {
			case k.ActivatedAt == nil && k.RetiredAt == nil:
				next = k
			case k.ActivatedAt != nil && k.RetiredAt == nil:
				if current != nil { // two current keys: retire the older
					if err := m.retire(ctx, current, now); err != nil {
						return err
					}
				}
				current = k
			}
		}
		if next != nil && next.Alg != m.alg { // algorithm changed: drop the stale next key
			next.RetiredAt, next.ExpiresAt = &now, &now
			if err := m.store.UpdateSigningKey(ctx, next); err != nil {
				return err
			}
			next = nil
		}
		due := current == nil || force || current.Alg != m.alg || now.Sub(*current.ActivatedAt) >= m.rotation
		if due {
			if next == nil {
				if next, err = m.create(ctx, now); err != nil {
					return err
				}
			}
			if current != nil {
				if err := m.retire(ctx, current, now); err != nil {
					return err
				}
			}
			next.ActivatedAt = &now
			if err := m.store.UpdateSigningKey(ctx, next); err != nil {
				return err
			}
			prev := ""
			if current != nil {
				prev = current.KID
			}
			if err := m.audit.Record(ctx, audit.Event{Action: "signing_key.rotated", Target: audit.Ref{Type: audit.TypeSigning, ID: next.KID},
				Metadata: map[string]any{"alg": next.Alg, "previous_kid": prev, "forced": force}}); err != nil {
				return err
			}
			rotated = true
			if _, err := m.create(ctx, now); err != nil { // the new next key, published from now on
				return err
			}
		} else if next == nil {
			if _, err := m.create(ctx, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return rotated, m.Load(ctx)
}

func (m *KeyManager) retire(ctx context.Context, k *SigningKey, now time.Time) error {
	exp := now.Add(m.publishFor)
	k.RetiredAt, k.ExpiresAt = &now, &exp
	return m.store.UpdateSigningKey(ctx, k)
}

func (m *KeyManager) create(ctx context.Context, now time.Time) (*SigningKey, error) {
	kid, priv, pub, err := signing.GenerateKey(m.alg)
	if err != nil {
		return nil, err
	}
	sealed, err := m.keyring.Seal(priv, signingKeyAD(kid))
	if err != nil {
		return nil, err
	}
	k := &SigningKey{KID: kid, Alg: m.alg, PrivateSealed: sealed, PublicJWK: pub, CreatedAt: now}
	return k, m.store.InsertSigningKey(ctx, k)
}

// Load reads the keys from the store and swaps in a new signer and key set.
func (m *KeyManager) Load(ctx context.Context) error {
	keys, err := m.store.ListSigningKeys(ctx, m.now().UTC())
	if err != nil {
		return err
	}
	var current *SigningKey
	pubs := make([][]byte, 0, len(keys))
	var algs []string
	for _, k := range keys {
		pubs = append(pubs, k.PublicJWK)
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
		if k.ActivatedAt != nil && k.RetiredAt == nil {
			current = k
		}
	}
	if current == nil {
		return fmt.Errorf("no current signing key; run gatehouse serve once or gatehouse signing-key rotate")
	}
	kids := current.KID + ":"
	for _, k := range keys {
		kids += k.KID + ","
	}
	m.mu.RLock()
	same := m.kids == kids
	m.mu.RUnlock()
	if same {
		return nil
	}
	priv, err := m.keyring.Open(current.PrivateSealed, signingKeyAD(current.KID))
	if err != nil {
		return fmt.Errorf("decrypt signing key %s: %w; run with the master key it was sealed under in GATEHOUSE_MASTER_KEY "+
			"(after gatehouse master-key rotate: the new key), or in GATEHOUSE_MASTER_KEY_PREVIOUS while a rotation is under way", current.KID, err)
	}
	signer, err := signing.NewSigner(priv)
	if err != nil {
		return err
	}
	ks, err := signing.NewKeySet(pubs, algs)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.signer, m.keyset, m.kids = signer, ks, kids
	m.mu.Unlock()
	return nil
}

// signingKeyAD is the associated data of a signing key's sealed private key.
func signingKeyAD(kid string) string { return "signing_key:" + kid }

// Rewrap re-seals under the keyring's current master key the private key
// of every signing key (expired ones included) that is sealed under
// another, checking that each opens under the current key, in one
// transaction that joins the caller's and holds off key rotations. It
// returns how many it re-sealed (with opts.DryRun: how many need it,
// changing nothing). The keys themselves do not change, so every token
// they signed still verifies. A key that opens under no key of the
// keyring fails it with a *secret.RewrapError; store errors are the
// store's.
func (m *KeyManager) Rewrap(ctx context.Context, opts secret.RewrapOptions) (int, error) {
	var n int
	err := m.store.InTx(ctx, func(ctx context.Context) error {
		if err := m.store.LockSigningKeys(ctx); err != nil {
			return err
		}
		var err error
		n, err = m.keyring.RewrapStored(secret.StoredKind{
			What: "signing key",
			List: func(after string, limit int) ([]secret.Stored, error) {
				return m.store.ListSealedSigningKeys(ctx, after, limit)
			},
			AD: signingKeyAD,
			Update: func(v secret.Stored, fresh string) (bool, error) {
				return m.store.UpdateSigningKeySealed(ctx, v.ID, v.Sealed, fresh)
			},
		}, opts)
		return err
	})
	return n, err
}

// Run reloads keys and rotates on schedule until ctx ends.
func (m *KeyManager) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.Ensure(ctx, false); err != nil && ctx.Err() == nil {
				slog.ErrorContext(ctx, "signing key maintenance failed", "err", err)
			}
		}
	}
}
