package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/user"
)

const lockoutColumns = `user_id, bucket, failures, window_start, locked_until, locks`

func scanLockout(sc scanner) (*user.Lockout, error) {
	l := new(user.Lockout)
	err := sc.Scan(&l.UserID, &l.Bucket, &l.Failures, timeCol{&l.WindowStart}, nullTimeCol{&l.LockedUntil}, &l.Locks)
	return l, err
}

// GetLockouts returns every lockout bucket of the user.
func (s *Store) GetLockouts(ctx context.Context, userID string) ([]user.Lockout, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT `+lockoutColumns+` FROM lockouts WHERE user_id = $1 ORDER BY bucket`, userID)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []user.Lockout
	for rows.Next() {
		l, err := scanLockout(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, *l)
	}
	return out, s.mapErr(rows.Err())
}

// UpdateLockout reads the bucket under a row lock, creating it when missing,
// applies fn and writes it back. NotFound user_not_found for an unknown user.
func (s *Store) UpdateLockout(ctx context.Context, userID, bucket string, now time.Time, fn func(*user.Lockout) error) (*user.Lockout, error) {
	var out *user.Lockout
	err := s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		_, err := w.exec(ctx, `INSERT INTO lockouts (user_id, bucket, failures, window_start, locks)
			VALUES ($1, $2, 0, $3, 0) ON CONFLICT (user_id, bucket) DO NOTHING`, userID, bucket, s.t(now))
		if foreignKeyViolation(err) {
			return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
		} else if err != nil {
			return s.mapErr(err)
		}
		l, err := scanLockout(w.queryRow(ctx, `SELECT `+lockoutColumns+` FROM lockouts WHERE user_id = $1 AND bucket = $2`+s.d.forUpdate, userID, bucket))
		if err != nil {
			return s.mapErr(err)
		}
		if err := fn(l); err != nil {
			return err
		}
		if _, err := w.exec(ctx, `UPDATE lockouts SET failures = $3, window_start = $4, locked_until = $5, locks = $6
			WHERE user_id = $1 AND bucket = $2`, userID, bucket, l.Failures, s.t(l.WindowStart), s.nt(l.LockedUntil), l.Locks); err != nil {
			return s.mapErr(err)
		}
		out = l
		return nil
	})
	return out, err
}

// ClearLockouts removes every bucket of the user.
func (s *Store) ClearLockouts(ctx context.Context, userID string) error {
	_, err := s.wr(ctx).exec(ctx, `DELETE FROM lockouts WHERE user_id = $1`, userID)
	return s.mapErr(err)
}

// IsKnownIP reports whether the user signed in from ip since since.
func (s *Store) IsKnownIP(ctx context.Context, userID, ip string, since time.Time) (bool, error) {
	var n int
	err := s.rd(ctx).queryRow(ctx, `SELECT COUNT(*) FROM known_ips WHERE user_id = $1 AND ip = $2 AND last_success_at >= $3`,
		userID, ip, s.t(since)).Scan(&n)
	return n > 0, s.mapErr(err)
}

// RecordKnownIP upserts the time of a successful sign-in from ip.
func (s *Store) RecordKnownIP(ctx context.Context, userID, ip string, at time.Time) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO known_ips (user_id, ip, last_success_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, ip) DO UPDATE SET last_success_at = excluded.last_success_at`, userID, ip, s.t(at))
	if foreignKeyViolation(err) {
		return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
	}
	return s.mapErr(err)
}

// AddPasswordHistory stores a former hash and keeps the newest keep.
func (s *Store) AddPasswordHistory(ctx context.Context, userID, hash string, at time.Time, keep int) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		if _, err := w.exec(ctx, `INSERT INTO password_history (user_id, hash, created_at) VALUES ($1, $2, $3)`, userID, hash, s.t(at)); err != nil {
			return s.mapErr(err)
		}
		_, err := w.exec(ctx, `DELETE FROM password_history WHERE user_id = $1 AND created_at NOT IN
			(SELECT created_at FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)`, userID, keep)
		return s.mapErr(err)
	})
}

// ListPasswordHistory returns up to n former hashes, newest first.
func (s *Store) ListPasswordHistory(ctx context.Context, userID string, n int) ([]string, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`, userID, n)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, h)
	}
	return out, s.mapErr(rows.Err())
}

// DeleteExpiredOneTimeTokens removes tokens expired or used before cutoff.
func (s *Store) DeleteExpiredOneTimeTokens(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1`, s.t(cutoff))
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), s.mapErr(err)
}
