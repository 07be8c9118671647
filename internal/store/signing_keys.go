package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// ListSigningKeys returns every key not yet expired at now (ExpiresAt nil
// or after now), oldest first.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]*oauth.SigningKey, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT kid, alg, private_sealed, public_jwk, created_at,
		activated_at, retired_at, expires_at
		FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1
		ORDER BY created_at, kid`, s.t(now))
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*oauth.SigningKey
	for rows.Next() {
		k := new(oauth.SigningKey)
		if err := rows.Scan(&k.KID, &k.Alg, &k.PrivateSealed, &k.PublicJWK, timeCol{&k.CreatedAt},
			nullTimeCol{&k.ActivatedAt}, nullTimeCol{&k.RetiredAt}, nullTimeCol{&k.ExpiresAt}); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// InsertSigningKey stores a new key. A duplicate kid is Internal (kids are
// random).
func (s *Store) InsertSigningKey(ctx context.Context, k *oauth.SigningKey) error {
	pub := k.PublicJWK
	if pub == nil {
		pub = []byte{}
	}
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk,
		created_at, activated_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.KID, k.Alg, k.PrivateSealed, pub, s.t(k.CreatedAt), s.nt(k.ActivatedAt), s.nt(k.RetiredAt), s.nt(k.ExpiresAt))
	return s.mapErr(err)
}

// UpdateSigningKey writes ActivatedAt, RetiredAt and ExpiresAt of the key;
// NotFound not_found when there is no key of that kid.
func (s *Store) UpdateSigningKey(ctx context.Context, k *oauth.SigningKey) error {
	res, err := s.wr(ctx).exec(ctx, `UPDATE signing_keys SET activated_at = $2, retired_at = $3, expires_at = $4
		WHERE kid = $1`, k.KID, s.nt(k.ActivatedAt), s.nt(k.RetiredAt), s.nt(k.ExpiresAt))
	return s.affectedOne(res, err, apperr.CodeNotFound, "signing key not found")
}

// ListSealedSigningKeys returns the kid and sealed private key of up to
// limit keys after afterKID, expired ones included, by kid; inside a
// transaction the rows stay locked until it ends (FOR UPDATE on
// PostgreSQL; SQLite's write transactions are serial).
func (s *Store) ListSealedSigningKeys(ctx context.Context, afterKID string, limit int) ([]secret.Stored, error) {
	return s.listSealed(ctx, `SELECT kid, private_sealed FROM signing_keys WHERE kid > $1 ORDER BY kid LIMIT $2`, afterKID, limit)
}

// UpdateSigningKeySealed replaces the sealed private key of kid when it
// still is old; false when it is not.
func (s *Store) UpdateSigningKeySealed(ctx context.Context, kid, old, fresh string) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE signing_keys SET private_sealed = $3 WHERE kid = $1 AND private_sealed = $2`, kid, old, fresh)
	return s.changedOne(res, err)
}

// LockSigningKeys serializes key rotations across instances for the rest of
// the context's transaction (an advisory lock on PostgreSQL; nothing on
// SQLite, whose write transactions are serial). Internal outside InTx.
func (s *Store) LockSigningKeys(ctx context.Context) error {
	return s.advisoryLock(ctx, lockKeySigningKeys, "LockSigningKeys")
}
