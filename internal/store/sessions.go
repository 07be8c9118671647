package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/user"
)

const sessionColumns = `id, user_id, client_id, scope, audience, auth_time, amr, created_at,
	last_used_at, expires_at, idle_expires_at, revoked_at, revoke_reason, ip, user_agent,
	current_hash, generation`

const insertSession = `INSERT INTO sessions (` + sessionColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

const updateSession = `UPDATE sessions SET user_id = $2, client_id = $3, scope = $4, audience = $5,
	auth_time = $6, amr = $7, created_at = $8, last_used_at = $9, expires_at = $10,
	idle_expires_at = $11, revoked_at = $12, revoke_reason = $13, ip = $14, user_agent = $15,
	current_hash = $16, generation = $17
	WHERE id = $1`

const getSession = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1`

func scanSession(sc scanner) (*oauth.Session, error) {
	x := new(oauth.Session)
	if err := sc.Scan(sessionDest(x)...); err != nil {
		return nil, err
	}
	return x, nil
}

// sessionDest is where a row of sessionColumns scans into x.
func sessionDest(x *oauth.Session) []any {
	return []any{&x.ID, &x.UserID, &x.ClientID, listCol{&x.Scope}, listCol{&x.Audience},
		timeCol{&x.AuthTime}, listCol{&x.AMR}, timeCol{&x.CreatedAt}, timeCol{&x.LastUsedAt},
		timeCol{&x.ExpiresAt}, timeCol{&x.IdleExpiresAt}, nullTimeCol{&x.RevokedAt},
		&x.RevokeReason, &x.IP, &x.UserAgent, &x.CurrentHash, &x.Generation}
}

func (s *Store) sessionArgs(x *oauth.Session) []any {
	return []any{x.ID, x.UserID, x.ClientID, list(x.Scope), list(x.Audience), s.t(x.AuthTime),
		list(x.AMR), s.t(x.CreatedAt), s.t(x.LastUsedAt), s.t(x.ExpiresAt), s.t(x.IdleExpiresAt),
		s.nt(x.RevokedAt), x.RevokeReason, x.IP, x.UserAgent, x.CurrentHash, x.Generation}
}

// CreateSession inserts x and its first refresh token in one transaction.
// NotFound user_not_found when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, x *oauth.Session, first *oauth.RefreshToken) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.wr(ctx).exec(ctx, insertSession, s.sessionArgs(x)...)
		if foreignKeyViolation(err) {
			return apperr.NotFound(apperr.CodeUserNotFound, "user not found").WithCause(err)
		}
		if err != nil {
			return s.mapErr(err)
		}
		if first == nil {
			return nil
		}
		return s.InsertRefreshToken(ctx, first)
	})
}

// GetSession returns the session; NotFound session_not_found.
func (s *Store) GetSession(ctx context.Context, id string) (*oauth.Session, error) {
	x, err := scanSession(s.rd(ctx).queryRow(ctx, getSession, id))
	if err != nil {
		return nil, s.notFound(err, apperr.CodeSessionNotFound, "session not found")
	}
	return x, nil
}

// ListSessions returns the user's unrevoked sessions that have expired
// neither absolutely nor by idleness at now, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]*oauth.Session, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
		ORDER BY created_at DESC, id DESC`, userID, s.t(now))
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*oauth.Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// UpdateSession reads the session under a row lock (SQLite: the
// transaction's write lock), applies fn, and writes every field back, in the
// caller's transaction when there is one. fn's error aborts and is returned
// as is; fn cannot change the id. NotFound session_not_found.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*oauth.Session) error) (*oauth.Session, error) {
	var out *oauth.Session
	err := s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		x, err := scanSession(w.queryRow(ctx, s.d.getSessionForUpdate, id))
		if err != nil {
			return s.notFound(err, apperr.CodeSessionNotFound, "session not found")
		}
		if err := fn(x); err != nil {
			return err
		}
		x.ID = id
		if _, err := w.exec(ctx, updateSession, s.sessionArgs(x)...); err != nil {
			return s.mapErr(err)
		}
		out = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdvanceSession rotates the session's family when it is live and at
// a.From, in one conditional UPDATE (no read, and only the columns that
// change, so its indexes are not rewritten); false when it is not.
func (s *Store) AdvanceSession(ctx context.Context, a *oauth.SessionAdvance) (bool, error) {
	var ok bool
	err := s.InTx(ctx, func(ctx context.Context) error {
		err := s.wr(ctx).queryRow(ctx, `UPDATE sessions
			SET current_hash = $4, generation = generation + 1, last_used_at = $5, idle_expires_at = $6
			WHERE id = $1 AND client_id = $2 AND current_hash = $3 AND revoked_at IS NULL
				AND expires_at > $5 AND idle_expires_at > $5
			RETURNING user_id, generation`,
			a.ID, a.ClientID, a.From, a.To, s.t(a.Now), s.t(a.IdleUntil)).Scan(&a.UserID, &a.Generation)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return s.mapErr(err)
	})
	return ok, err
}

// RevokeUserSessions marks every unrevoked session of the user revoked at
// now with reason, except the one with id except (may be ""), and returns
// the ids revoked. Sessions already past their expiry are revoked too: the
// caller may deny their access tokens, which is never wrong.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except, reason string, now time.Time) (ids []string, err error) {
	err = s.InTx(ctx, func(ctx context.Context) error {
		rows, err := s.wr(ctx).query(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
			WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL
			RETURNING id`, s.t(now), reason, userID, except)
		if err != nil {
			return s.mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return s.mapErr(err)
			}
			ids = append(ids, id)
		}
		return s.mapErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// A token's rotation is read from its successor, the family's next
// generation, whose row points at the response that replaced it (replay_id
// into refresh_replays, sealed under a key derived from this token, deleted
// after the reuse grace): a rotation writes only the new row and its replay.
// Rows rotated before migration 00008 carry rotated_at and successor
// themselves, which win; rows written under 00008 keep their replay column.
const (
	refreshRowColumns = `rt.hash, rt.session_id, rt.generation, rt.created_at,
	COALESCE(rt.rotated_at, nx.created_at), COALESCE(rt.successor, nx.replay, rp.replay)`
	refreshRowFrom = `refresh_tokens rt LEFT JOIN refresh_tokens nx
	ON nx.session_id = rt.session_id AND nx.generation = rt.generation + 1
	LEFT JOIN refresh_replays rp ON rp.id = nx.replay_id`
)

// refreshRowDest is where a row of refreshRowColumns scans into t.
func refreshRowDest(t *oauth.RefreshToken) []any {
	return []any{&t.Hash, &t.SessionID, &t.Generation, timeCol{&t.CreatedAt}, nullTimeCol{&t.RotatedAt}, &t.Successor}
}

// The two ways to a refresh token's row (oauth.RefreshKey): by the session
// and generation its token names, the primary key, after which the stored
// hash must equal the presented one; or, for tokens of the older form, by
// hash among the rows marked legacy (a partial index).
const (
	refreshAt     = ` WHERE rt.session_id = $1 AND rt.generation = $2`
	refreshLegacy = ` WHERE rt.hash = $1 AND rt.legacy`
)

// refreshQuery returns the statement (query followed by one of the WHERE
// clauses above) and arguments that find k's row.
func refreshQuery(query, legacyQuery string, k oauth.RefreshKey) (string, []any) {
	if k.SessionID == "" {
		return legacyQuery, []any{k.Hash}
	}
	return query, []any{k.SessionID, k.Generation}
}

// refreshFound turns a row read by session and generation into NotFound
// unless it holds the key's hash (in constant time, like every comparison
// of a secret's hash).
func (s *Store) refreshFound(err error, k oauth.RefreshKey, stored string) error {
	if err == nil && subtle.ConstantTimeCompare([]byte(stored), []byte(k.Hash)) != 1 {
		err = sql.ErrNoRows
	}
	return s.notFound(err, apperr.CodeNotFound, "refresh token not found")
}

// GetRefreshToken returns the token of that key; NotFound not_found when
// unknown.
func (s *Store) GetRefreshToken(ctx context.Context, k oauth.RefreshKey) (*oauth.RefreshToken, error) {
	const get = `SELECT ` + refreshRowColumns + ` FROM ` + refreshRowFrom
	q, args := refreshQuery(get+refreshAt, get+refreshLegacy, k)
	t := new(oauth.RefreshToken)
	err := s.rd(ctx).queryRow(ctx, q, args...).Scan(refreshRowDest(t)...)
	if err := s.refreshFound(err, k, t.Hash); err != nil {
		return nil, err
	}
	return t, nil
}

// GetRefreshFamily returns the token of that key with its session and the
// session's user, read in one statement (the refresh grant's only read);
// NotFound when the token is unknown.
func (s *Store) GetRefreshFamily(ctx context.Context, k oauth.RefreshKey) (*oauth.RefreshFamily, error) {
	f := &oauth.RefreshFamily{Token: new(oauth.RefreshToken), Session: new(oauth.Session), User: new(user.User)}
	var status string
	dest := append(refreshRowDest(f.Token), sessionDest(f.Session)...)
	q, args := refreshQuery(s.d.getRefreshFamily, s.d.getLegacyFamily, k)
	err := s.rd(ctx).queryRow(ctx, q, args...).Scan(append(dest, userDest(f.User, &status)...)...)
	if err := s.refreshFound(err, k, f.Token.Hash); err != nil {
		return nil, err
	}
	f.User.Status = user.Status(status)
	return f, nil
}

// InsertRefreshToken stores a new family member. NotFound session_not_found
// when its session does not exist.
func (s *Store) InsertRefreshToken(ctx context.Context, t *oauth.RefreshToken) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, generation, created_at, rotated_at, successor)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.SessionID, t.Generation, s.t(t.CreatedAt), s.nt(t.RotatedAt), blob(t.Successor))
	if foreignKeyViolation(err) {
		return apperr.NotFound(apperr.CodeSessionNotFound, "session not found").WithCause(err)
	}
	return s.mapErr(err)
}

// RotateRefreshToken stores next, old's successor, pointing at old's sealed
// successor response (stored first in refresh_replays, which the replay
// pruner empties after the reuse grace), with a statement that writes
// nothing unless old is stored with next's session at the generation before
// next's; old's row is not rewritten (its rotation is read from next, see
// refreshRowColumns). The rotation time is next.CreatedAt, which
// old.RotatedAt must equal. Internal when old is not stored as described or
// next's generation is taken.
func (s *Store) RotateRefreshToken(ctx context.Context, old, next *oauth.RefreshToken) error {
	if old.RotatedAt == nil || !old.RotatedAt.Equal(next.CreatedAt) || old.Successor == nil || old.SessionID != next.SessionID {
		return apperr.Internal(errors.New("store: RotateRefreshToken needs old.RotatedAt = next.CreatedAt, old.Successor and one session"))
	}
	// A refused rotation returns an error, which rolls back the response
	// stored for it (this transaction, or the caller's savepoint).
	return s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		replay := any(blob(old.Successor))
		if s.d.insertReplay != "" {
			res, err := w.exec(ctx, s.d.insertReplay, s.t(next.CreatedAt), replay)
			if err != nil {
				return s.mapErr(err)
			}
			if replay, err = res.LastInsertId(); err != nil {
				return s.mapErr(err)
			}
		}
		res, err := w.exec(ctx, s.d.rotateRefresh,
			next.Hash, next.SessionID, next.Generation, s.t(next.CreatedAt), replay, old.Hash, old.Generation)
		if _, dup := uniqueViolation(err); dup {
			return apperr.Internal(fmt.Errorf("store: refresh rotation: the successor's generation is taken: %w", err))
		}
		if err != nil {
			return s.mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return s.mapErr(err)
		} else if n != 1 {
			return apperr.Internal(errors.New("store: refresh rotation: the rotated token is not stored at the generation before its successor"))
		}
		return nil
	})
}

// LastRefreshReplayID returns the id of the newest sealed replay response
// (0 when there is none). Ids only increase: rows deleted are not reused.
func (s *Store) LastRefreshReplayID(ctx context.Context) (int64, error) {
	var id int64
	err := s.rd(ctx).queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM refresh_replays`).Scan(&id)
	return id, s.mapErr(err)
}

// DeleteRefreshReplays deletes at most limit sealed replay responses with
// ids up to upto, oldest first, and returns how many. The tokens stay: a
// rotated token still reads back rotated, without its successor.
func (s *Store) DeleteRefreshReplays(ctx context.Context, upto int64, limit int) (int, error) {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM refresh_replays
		WHERE id IN (SELECT id FROM refresh_replays WHERE id <= $1 ORDER BY id LIMIT $2)`, upto, limit)
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), s.mapErr(err)
}

// DeleteExpiredSessions removes sessions (and their tokens, by cascade)
// that expired, absolutely or by idleness, or were revoked before cutoff,
// and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM sessions
		WHERE expires_at < $1 OR idle_expires_at < $1 OR revoked_at < $1`, s.t(cutoff))
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(err)
	}
	return int(n), nil
}
