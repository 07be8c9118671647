package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/secret"
)

var _ secret.SecretStore = (*Store)(nil)

// SealedSecret returns the sealed value stored under name; NotFound not_found.
func (s *Store) SealedSecret(ctx context.Context, name string) (string, error) {
	var v string
	err := s.rd(ctx).queryRow(ctx, `SELECT sealed FROM sealed_secrets WHERE name = $1`, name).Scan(&v)
	if err != nil {
		return "", s.notFound(err, apperr.CodeNotFound, "no such secret")
	}
	return v, nil
}

// PutSealedSecretIfAbsent stores sealed under name unless a value exists
// (another instance may have made it first); either way it returns the
// value that is stored.
func (s *Store) PutSealedSecretIfAbsent(ctx context.Context, name, sealed string, now time.Time) (string, error) {
	var out string
	err := s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		if _, err := w.exec(ctx, `INSERT INTO sealed_secrets (name, sealed, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, sealed, s.t(now)); err != nil {
			return s.mapErr(err)
		}
		return s.mapErr(w.queryRow(ctx, `SELECT sealed FROM sealed_secrets WHERE name = $1`, name).Scan(&out))
	})
	return out, err
}

// ListSealedSecrets returns the name and sealed value of up to limit
// secrets named after afterName, by name; inside a transaction the rows
// stay locked until it ends.
func (s *Store) ListSealedSecrets(ctx context.Context, afterName string, limit int) ([]secret.Stored, error) {
	return s.listSealed(ctx, `SELECT name, sealed FROM sealed_secrets WHERE name > $1 ORDER BY name LIMIT $2`, afterName, limit)
}

// UpdateSealedSecret replaces the value of the secret name when it still is
// old; false when it is not.
func (s *Store) UpdateSealedSecret(ctx context.Context, name, old, fresh string) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE sealed_secrets SET sealed = $3 WHERE name = $1 AND sealed = $2`, name, old, fresh)
	return s.changedOne(res, err)
}

// listSealed runs q, a SELECT of (id, sealed value) pairs after $1 limited
// to $2, row-locked (PostgreSQL) for the rest of the context's
// transaction, when there is one.
func (s *Store) listSealed(ctx context.Context, q, after string, limit int) ([]secret.Stored, error) {
	if s.inTx(ctx) {
		q += s.d.forUpdate
	}
	rows, err := s.rd(ctx).query(ctx, q, after, limit)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []secret.Stored
	for rows.Next() {
		var v secret.Stored
		if err := rows.Scan(&v.ID, &v.Sealed); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}
