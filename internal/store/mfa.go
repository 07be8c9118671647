package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/secret"
)

var _ mfa.Store = (*Store)(nil)

const totpColumns = `user_id, secret_sealed, confirmed, created_at, confirmed_at, last_step`

// GetTOTP returns the user's TOTP enrolment; NotFound mfa_not_enrolled.
func (s *Store) GetTOTP(ctx context.Context, userID string) (*mfa.TOTP, error) {
	t := new(mfa.TOTP)
	err := s.rd(ctx).queryRow(ctx, `SELECT `+totpColumns+` FROM mfa_totp WHERE user_id = $1`, userID).
		Scan(&t.UserID, &t.SecretSealed, &t.Confirmed, timeCol{&t.CreatedAt}, nullTimeCol{&t.ConfirmedAt}, &t.LastStep)
	if err != nil {
		return nil, s.notFound(err, mfa.CodeNotEnrolled, "TOTP is not set up")
	}
	return t, nil
}

// PutPendingTOTP inserts t as a pending enrolment or replaces a pending
// one: one upsert whose update applies only to an unconfirmed row, so a
// confirmed enrolment is never overwritten, even by a concurrent call.
// Conflict mfa_already_enrolled when it is; NotFound user_not_found for an
// unknown user.
func (s *Store) PutPendingTOTP(ctx context.Context, t *mfa.TOTP) error {
	res, err := s.wr(ctx).exec(ctx, `INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at,
			confirmed_at = NULL, last_step = 0
		WHERE NOT mfa_totp.confirmed`, t.UserID, t.SecretSealed, s.t(t.CreatedAt))
	if foreignKeyViolation(err) {
		return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
	}
	ok, err := s.changedOne(res, err)
	if err == nil && !ok {
		return apperr.Conflict(mfa.CodeAlreadyEnrolled, "TOTP is already set up; remove it before enrolling again")
	}
	return err
}

// ConfirmTOTP confirms the pending enrolment sealed as secretSealed with
// one conditional UPDATE; false when no row qualifies.
func (s *Store) ConfirmTOTP(ctx context.Context, userID, secretSealed string, step int64, now time.Time) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE mfa_totp SET confirmed = $4, confirmed_at = $5, last_step = $3
		WHERE user_id = $1 AND secret_sealed = $2 AND NOT confirmed AND last_step < $3`,
		userID, secretSealed, step, true, s.t(now))
	return s.changedOne(res, err)
}

// ListSealedTOTP returns the user id and sealed secret of up to limit
// enrolments after afterUserID, by user id; inside a transaction the rows
// stay locked until it ends.
func (s *Store) ListSealedTOTP(ctx context.Context, afterUserID string, limit int) ([]secret.Stored, error) {
	return s.listSealed(ctx, `SELECT user_id, secret_sealed FROM mfa_totp WHERE user_id > $1 ORDER BY user_id LIMIT $2`, afterUserID, limit)
}

// UpdateTOTPSealed replaces the user's sealed secret when it still is old;
// false when it is not.
func (s *Store) UpdateTOTPSealed(ctx context.Context, userID, old, fresh string) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE mfa_totp SET secret_sealed = $3 WHERE user_id = $1 AND secret_sealed = $2`, userID, old, fresh)
	return s.changedOne(res, err)
}

// UseTOTPStep records an accepted code's step with one conditional UPDATE
// (a row lock on PostgreSQL, the write lock on SQLite): of concurrent
// callers with the same step exactly one gets true.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND confirmed AND last_step < $2`,
		userID, step)
	return s.changedOne(res, err)
}

// DeleteTOTP removes the user's enrolment; NotFound mfa_not_enrolled.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM mfa_totp WHERE user_id = $1`, userID)
	return s.affectedOne(res, err, mfa.CodeNotEnrolled, "TOTP is not set up")
}

// ReplaceRecoveryCodes deletes the user's codes and inserts hashes, in one
// transaction. NotFound user_not_found for an unknown user (with hashes).
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		if _, err := w.exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return s.mapErr(err)
		}
		for _, h := range hashes {
			_, err := w.exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)
				ON CONFLICT (user_id, hash) DO NOTHING`, userID, h, s.t(now))
			if foreignKeyViolation(err) {
				return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
			} else if err != nil {
				return s.mapErr(err)
			}
		}
		return nil
	})
}

// UseRecoveryCode marks an unused code used with one conditional UPDATE, so
// of concurrent callers exactly one gets true.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (bool, error) {
	res, err := s.wr(ctx).exec(ctx, `UPDATE mfa_recovery_codes SET used_at = $3
		WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`, userID, hash, s.t(now))
	return s.changedOne(res, err)
}

// CountRecoveryCodes counts the user's unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.rd(ctx).queryRow(ctx, `SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	return n, s.mapErr(err)
}

// changedOne reports whether a conditional statement changed a row.
func (s *Store) changedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.mapErr(err)
	}
	return n > 0, nil
}
