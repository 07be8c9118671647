package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// InsertRevocation stores r and returns its Seq (also set on r).
//
// Pollers read entries by Seq > last seen, so Seq order must be commit
// order: on PostgreSQL, where a sequence hands out numbers before commit, the
// insert first takes an advisory lock held to the end of the transaction, so
// a later Seq can never become visible before an earlier one. SQLite's
// writes are serial already.
func (s *Store) InsertRevocation(ctx context.Context, r *oauth.Revocation) (int64, error) {
	var seq int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.advisoryLock(ctx, lockKeyRevocations, "InsertRevocation"); err != nil {
			return err
		}
		err := s.wr(ctx).queryRow(ctx, `INSERT INTO revocations (kind, value, revoked_at, expires_at)
			VALUES ($1, $2, $3, $4) RETURNING seq`,
			string(r.Kind), r.Value, s.t(r.RevokedAt), s.t(r.ExpiresAt)).Scan(&seq)
		return s.mapErr(err)
	})
	if err != nil {
		return 0, err
	}
	r.Seq = seq
	return seq, nil
}

// ListRevocations returns entries with Seq > afterSeq that expire after now,
// by Seq.
func (s *Store) ListRevocations(ctx context.Context, afterSeq int64, now time.Time) ([]*oauth.Revocation, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT seq, kind, value, revoked_at, expires_at FROM revocations
		WHERE seq > $1 AND expires_at > $2 ORDER BY seq`, afterSeq, s.t(now))
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*oauth.Revocation
	for rows.Next() {
		r := new(oauth.Revocation)
		var kind string
		if err := rows.Scan(&r.Seq, &kind, &r.Value, timeCol{&r.RevokedAt}, timeCol{&r.ExpiresAt}); err != nil {
			return nil, s.mapErr(err)
		}
		r.Kind = oauth.RevocationKind(kind)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// DeleteExpiredRevocations removes entries that expired before now and
// returns how many.
func (s *Store) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM revocations WHERE expires_at < $1`, s.t(now))
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(err)
	}
	return int(n), nil
}
