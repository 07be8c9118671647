package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
)

var _ apikey.Store = (*Store)(nil)

// #nosec G101 -- column names (hash, prev_hash), not credentials
const apiKeyColumns = `id, name, prefix, hint, owner_id, permissions, metadata, expires_at,
	rate_limit, rate_window_ms, quota, quota_remaining, status, created_at, updated_at,
	last_used_at, revoked_at, hash, prev_hash, prev_expires_at`

const insertAPIKey = `INSERT INTO api_keys (` + apiKeyColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`

// #nosec G101 -- column names (hash, prev_hash), not credentials
const updateAPIKey = `UPDATE api_keys SET name = $2, prefix = $3, hint = $4, owner_id = $5,
	permissions = $6, metadata = $7, expires_at = $8, rate_limit = $9, rate_window_ms = $10,
	quota = $11, quota_remaining = $12, status = $13, created_at = $14, updated_at = $15,
	last_used_at = $16, revoked_at = $17, hash = $18, prev_hash = $19, prev_expires_at = $20
	WHERE id = $1`

const getAPIKey = `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE id = $1`

// getAPIKeyByHash finds a key by its current hash (the unique index) or by
// its previous hash within the grace period (the partial index on
// prev_hash); both engines answer the OR with the two indexes.
const getAPIKeyByHash = `SELECT ` + apiKeyColumns + ` FROM api_keys
	WHERE hash = $1 OR (prev_hash = $1 AND prev_expires_at > $2) LIMIT 1`

func scanAPIKey(sc scanner) (*apikey.Key, error) {
	k := new(apikey.Key)
	var status string
	var meta sql.NullString
	var limit, window, quota, remaining sql.NullInt64
	var prev sql.NullString
	err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hint, &k.OwnerID, listCol{&k.Permissions}, &meta,
		nullTimeCol{&k.ExpiresAt}, &limit, &window, &quota, &remaining, &status,
		timeCol{&k.CreatedAt}, timeCol{&k.UpdatedAt}, nullTimeCol{&k.LastUsedAt}, nullTimeCol{&k.RevokedAt},
		&k.Hash, &prev, nullTimeCol{&k.PrevExpiresAt})
	if err != nil {
		return nil, err
	}
	k.Status = apikey.Status(status)
	k.PrevHash = prev.String
	if limit.Valid && window.Valid {
		k.RateLimit = &apikey.Limit{Limit: int(limit.Int64), Window: time.Duration(window.Int64) * time.Millisecond}
	}
	if quota.Valid {
		k.Quota = &quota.Int64
	}
	if remaining.Valid {
		k.QuotaRemaining = &remaining.Int64
	}
	if meta.Valid && meta.String != "" && meta.String != "{}" {
		if err := json.Unmarshal([]byte(meta.String), &k.Metadata); err != nil {
			return nil, fmt.Errorf("store: decode key metadata: %w", err)
		}
	}
	return k, nil
}

func (s *Store) apiKeyArgs(k *apikey.Key) ([]any, error) {
	meta := "{}"
	if len(k.Metadata) > 0 {
		b, err := json.Marshal(k.Metadata)
		if err != nil {
			return nil, apperr.Internal(fmt.Errorf("store: encode key metadata: %w", err))
		}
		meta = string(b)
	}
	var limit, window any
	if k.RateLimit != nil {
		limit, window = k.RateLimit.Limit, k.RateLimit.Window.Milliseconds()
	}
	return []any{k.ID, k.Name, k.Prefix, k.Hint, k.OwnerID, list(k.Permissions), meta,
		s.nt(k.ExpiresAt), limit, window, nullInt(k.Quota), nullInt(k.QuotaRemaining), string(k.Status),
		s.t(k.CreatedAt), s.t(k.UpdatedAt), s.nt(k.LastUsedAt), s.nt(k.RevokedAt),
		k.Hash, nullStr(k.PrevHash), s.nt(k.PrevExpiresAt)}, nil
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// CreateKey inserts k. NotFound user_not_found when the owner does not
// exist; Conflict key_exists when the id or hash is taken.
func (s *Store) CreateKey(ctx context.Context, k *apikey.Key) error {
	a, err := s.apiKeyArgs(k)
	if err != nil {
		return err
	}
	_, err = s.wr(ctx).exec(ctx, insertAPIKey, a...)
	if foreignKeyViolation(err) {
		return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
	}
	return s.conflictOr(err, apikey.CodeKeyExists, "the key already exists")
}

// GetKey returns the key; NotFound key_not_found.
func (s *Store) GetKey(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanAPIKey(s.rd(ctx).queryRow(ctx, getAPIKey, id))
	if err != nil {
		return nil, s.notFound(err, apikey.CodeKeyNotFound, "key not found")
	}
	return k, nil
}

// GetKeyByHash returns the key whose current hash is hash, or whose previous
// hash is hash with a grace period ending after now; NotFound key_not_found.
func (s *Store) GetKeyByHash(ctx context.Context, hash string, now time.Time) (*apikey.Key, error) {
	k, err := scanAPIKey(s.rd(ctx).queryRow(ctx, getAPIKeyByHash, hash, s.t(now)))
	if err != nil {
		return nil, s.notFound(err, apikey.CodeKeyNotFound, "key not found")
	}
	return k, nil
}

// ListKeys returns the keys q selects, oldest first (by created_at, id),
// reading only the page: a page after the first starts with a row-value
// comparison that both engines answer from an index, (owner_id, created_at,
// id) for one owner's keys and (created_at, id) for every key.
func (s *Store) ListKeys(ctx context.Context, q apikey.ListQuery) ([]*apikey.Key, error) {
	text, a := s.listKeysQuery(q)
	rows, err := s.rd(ctx).query(ctx, text, a...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*apikey.Key
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// listKeysQuery is ListKeys' statement and arguments.
func (s *Store) listKeysQuery(q apikey.ListQuery) (string, args) {
	var a args
	var conds []string
	if q.OwnerID != "" {
		conds = append(conds, "owner_id = "+a.add(q.OwnerID))
	}
	if q.AfterID != "" {
		conds = append(conds, "(created_at, id) > ("+a.add(s.t(q.AfterCreated))+", "+a.add(q.AfterID)+")")
	}
	text := `SELECT ` + apiKeyColumns + ` FROM api_keys`
	if len(conds) > 0 {
		text += " WHERE " + strings.Join(conds, " AND ")
	}
	text += " ORDER BY created_at, id"
	if q.Limit > 0 {
		text += " LIMIT " + a.add(q.Limit)
	}
	return text, a
}

// UpdateKey reads the key under a row lock (SQLite: the transaction's write
// lock), applies fn, and writes every field back, in the caller's
// transaction when there is one. fn's error aborts and is returned as is; fn
// cannot change the id. NotFound key_not_found; Conflict key_exists.
func (s *Store) UpdateKey(ctx context.Context, id string, fn func(*apikey.Key) error) (*apikey.Key, error) {
	var out *apikey.Key
	err := s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		k, err := scanAPIKey(w.queryRow(ctx, getAPIKey+s.d.forUpdate, id))
		if err != nil {
			return s.notFound(err, apikey.CodeKeyNotFound, "key not found")
		}
		if err := fn(k); err != nil {
			return err
		}
		k.ID = id
		a, err := s.apiKeyArgs(k)
		if err != nil {
			return err
		}
		if _, err := w.exec(ctx, updateAPIKey, a...); err != nil {
			return s.conflictOr(err, apikey.CodeKeyExists, "the key already exists")
		}
		out = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flushKeyUse moves last_used_at forward only ($2 NULL leaves it) and takes
// quota down to no less than 0; keys without a quota keep NULL. $2 is first
// compared with a column so that PostgreSQL can type it.
const flushKeyUse = `UPDATE api_keys SET
	last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 THEN COALESCE($2, last_used_at) ELSE last_used_at END,
	quota_remaining = CASE WHEN quota_remaining IS NULL THEN NULL
		WHEN quota_remaining > $3 THEN quota_remaining - $3 ELSE 0 END
	WHERE id = $1`

const upsertUsage = `INSERT INTO api_key_usage (key_id, period, start, outcome, n) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (key_id, period, start, outcome) DO UPDATE SET n = api_key_usage.n + excluded.n`

// FlushUsage applies a batch of usage in one transaction: per key one
// update (last_used_at, quota) and one upsert per hourly count into its
// hour and its day. A key that no longer exists (its owner was deleted) is
// skipped, so a flush never fails on it and retries forever.
func (s *Store) FlushUsage(ctx context.Context, batch []apikey.UsageDelta) error {
	if len(batch) == 0 {
		return nil
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		for _, d := range batch {
			res, err := w.exec(ctx, flushKeyUse, d.KeyID, s.nt(d.LastUsedAt), d.QuotaUsed)
			if err != nil {
				return s.mapErr(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return s.mapErr(err)
			}
			if n == 0 {
				continue
			}
			for _, c := range d.Counts {
				hour := c.Start.UTC().Truncate(time.Hour)
				day := time.Date(hour.Year(), hour.Month(), hour.Day(), 0, 0, 0, 0, time.UTC)
				if _, err := w.exec(ctx, upsertUsage, d.KeyID, string(apikey.PeriodHour), s.t(hour), c.Outcome, c.N); err != nil {
					return s.mapErr(err)
				}
				if _, err := w.exec(ctx, upsertUsage, d.KeyID, string(apikey.PeriodDay), s.t(day), c.Outcome, c.N); err != nil {
					return s.mapErr(err)
				}
			}
		}
		return nil
	})
}

// ListUsage returns the key's buckets of period p starting at or after
// since, by start then outcome.
func (s *Store) ListUsage(ctx context.Context, keyID string, p apikey.Period, since time.Time) ([]apikey.UsageCount, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT start, outcome, n FROM api_key_usage
		WHERE key_id = $1 AND period = $2 AND start >= $3 ORDER BY start, outcome`, keyID, string(p), s.t(since))
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []apikey.UsageCount
	for rows.Next() {
		var c apikey.UsageCount
		if err := rows.Scan(timeCol{&c.Start}, &c.Outcome, &c.N); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// UsageTotals returns the key's counts by outcome over every stored day.
func (s *Store) UsageTotals(ctx context.Context, keyID string) (map[string]int64, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT outcome, CAST(SUM(n) AS BIGINT) FROM api_key_usage
		WHERE key_id = $1 AND period = $2 GROUP BY outcome`, keyID, string(apikey.PeriodDay))
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var o string
		var n int64
		if err := rows.Scan(&o, &n); err != nil {
			return nil, s.mapErr(err)
		}
		out[o] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// DeleteUsageBefore removes buckets of period p starting before t and
// returns how many.
func (s *Store) DeleteUsageBefore(ctx context.Context, p apikey.Period, t time.Time) (int, error) {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM api_key_usage WHERE period = $1 AND start < $2`, string(p), s.t(t))
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(err)
	}
	return int(n), nil
}
