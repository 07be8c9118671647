package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

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
