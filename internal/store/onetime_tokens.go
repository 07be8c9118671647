package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/user"
)

const ottColumns = `hash, kind, user_id, client_id, data, created_at, expires_at, used_at`

func scanOneTimeToken(sc scanner) (*user.OneTimeToken, error) {
	t := new(user.OneTimeToken)
	var kind string
	err := sc.Scan(&t.Hash, &kind, &t.UserID, &t.ClientID, &t.Data,
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, nullTimeCol{&t.UsedAt})
	if err != nil {
		return nil, err
	}
	t.Kind = user.TokenKind(kind)
	return t, nil
}

// CreateOneTimeToken stores t. NotFound user_not_found when its user does
// not exist.
func (s *Store) CreateOneTimeToken(ctx context.Context, t *user.OneTimeToken) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO one_time_tokens (`+ottColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Hash, string(t.Kind), t.UserID, t.ClientID, t.Data,
		s.t(t.CreatedAt), s.t(t.ExpiresAt), s.nt(t.UsedAt))
	if foreignKeyViolation(err) {
		return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
	}
	return s.mapErr(err)
}

// ConsumeOneTimeToken atomically marks the unexpired, unused token of that
// hash and kind as used at now and returns it: one conditional UPDATE …
// RETURNING, so of concurrent consumers exactly one succeeds. NotFound
// not_found when there is no such token.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, hash string, kind user.TokenKind, now time.Time) (*user.OneTimeToken, error) {
	var t *user.OneTimeToken
	err := s.InTx(ctx, func(ctx context.Context) (err error) {
		t, err = scanOneTimeToken(s.wr(ctx).queryRow(ctx, `UPDATE one_time_tokens SET used_at = $1
			WHERE hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1
			RETURNING `+ottColumns, s.t(now), hash, string(kind)))
		return s.notFound(err, apperr.CodeNotFound, "token not found")
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// GetOneTimeToken returns the unexpired, unused token without consuming it.
// NotFound not_found when there is no such token.
func (s *Store) GetOneTimeToken(ctx context.Context, hash string, kind user.TokenKind, now time.Time) (*user.OneTimeToken, error) {
	t, err := scanOneTimeToken(s.rd(ctx).queryRow(ctx, `SELECT `+ottColumns+` FROM one_time_tokens
		WHERE hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3`,
		hash, string(kind), s.t(now)))
	if err != nil {
		return nil, s.notFound(err, apperr.CodeNotFound, "token not found")
	}
	return t, nil
}

// DeleteOneTimeTokens removes every token of that kind for the user.
func (s *Store) DeleteOneTimeTokens(ctx context.Context, userID string, kind user.TokenKind) error {
	_, err := s.wr(ctx).exec(ctx, `DELETE FROM one_time_tokens WHERE user_id = $1 AND kind = $2`, userID, string(kind))
	return s.mapErr(err)
}
