package store

import (
	"strings"
	"time"
)

// dialect holds what differs between the engines: the encoding of times and
// the few statements that cannot be written once. Everything else is shared
// SQL with $n placeholders, which both drivers bind by position.
type dialect struct {
	engine string
	// forUpdate is appended to a SELECT that reads a row to change it.
	// SQLite needs no row lock: its transactions take the write lock at BEGIN.
	forUpdate string
	// time encodes a time as the engine stores it.
	time func(time.Time) any

	// userRoles and userGroups select a user's roles and groups, in the order
	// they were given, as a JSON array; they are correlated with users u.
	userRoles, userGroups string
	// roleInUse answers whether a user, group or another role refers to $1.
	roleInUse string
	// advisoryLock takes the transaction-scoped advisory lock of key $1;
	// "" where the engine needs none (SQLite's writer is already exclusive).
	advisoryLock string
	// rotateRefresh inserts the successor token $1..$4 when the token
	// of hash $6 is stored with session $2 at generation $7 = $3 - 1
	// (RotateRefreshToken), pointing at its sealed replay response $5:
	// on PostgreSQL $5 is the response, stored by the same statement (a
	// data-modifying WITH: one round trip); on SQLite, which has no such
	// statement, insertReplay stores it first and $5 is its id. PostgreSQL
	// needs the parameters' types spelled out in an INSERT … SELECT.
	rotateRefresh string
	// insertReplay stores the sealed response $2 created at $1; "" where
	// rotateRefresh does it.
	insertReplay string

	// Derived from the above by build.
	selectUsers         string // SELECT every user column FROM users u
	getUser             string // … by id
	getUserByUsername   string // … by username_key
	getUserForUpdate    string // … by id, row-locked
	getSessionForUpdate string // a session by id, row-locked
	auditHeadForUpdate  string // the audit head, row-locked
	getRefreshFamily    string // a refresh token by session and generation, its session and user
	getLegacyFamily     string // … a token of the older form by hash
}

// build fills the derived statements and returns d.
func (d *dialect) build() *dialect {
	d.selectUsers = "SELECT " + userColumns + ", " + d.userRoles + ", " + d.userGroups + " FROM users u"
	d.getUser = d.selectUsers + " WHERE u.id = $1"
	d.getUserByUsername = d.selectUsers + " WHERE u.username_key = $1"
	d.getUserForUpdate = d.getUser + d.forUpdate
	d.getSessionForUpdate = getSession + d.forUpdate
	d.auditHeadForUpdate = auditHead + d.forUpdate
	family := "SELECT " + refreshRowColumns + ", " +
		prefixed("s", sessionColumns) + ", " + userColumns + ", " + d.userRoles + ", " + d.userGroups +
		" FROM " + refreshRowFrom + " JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id"
	d.getRefreshFamily = family + refreshAt
	d.getLegacyFamily = family + refreshLegacy
	return d
}

// Advisory lock keys (PostgreSQL, transaction scope). Arbitrary constants,
// distinct from goose's migration lock.
const (
	lockKeyAdmins      int64 = 0x67617465_00000001 // "gate" + 1
	lockKeySigningKeys int64 = 0x67617465_00000002
	lockKeyRevocations int64 = 0x67617465_00000003
)

var sqliteDialect = (&dialect{
	engine: EngineSQLite,
	// Unix microseconds: exact for every time.Time from year -290000 to
	// 294000 (the zero time included), the same precision as PostgreSQL,
	// and ordered as integers.
	time:       func(t time.Time) any { return t.UnixMicro() },
	userRoles:  `(SELECT json_group_array(role ORDER BY pos) FROM user_roles WHERE user_id = u.id)`,
	userGroups: `(SELECT json_group_array(group_name ORDER BY pos) FROM user_groups WHERE user_id = u.id)`,
	roleInUse: `SELECT EXISTS (SELECT 1 FROM user_roles WHERE role = $1)
		OR EXISTS (SELECT 1 FROM groups, json_each(groups.roles) j WHERE j.value = $1)
		OR EXISTS (SELECT 1 FROM roles, json_each(roles.inherits) j WHERE j.value = $1 AND roles.name <> $1)`,
	rotateRefresh: `INSERT INTO refresh_tokens (hash, session_id, generation, created_at, replay_id)
		SELECT $1, $2, $3, $4, $5 FROM refresh_tokens
		WHERE session_id = $2 AND generation = $7 AND hash = $6 AND $3 = $7 + 1`,
	insertReplay: `INSERT INTO refresh_replays (created_at, replay) VALUES ($1, $2)`,
}).build()

var postgresDialect = (&dialect{
	engine:    EnginePostgres,
	forUpdate: " FOR UPDATE",
	rotateRefresh: `WITH rp AS (INSERT INTO refresh_replays (created_at, replay) VALUES ($4::timestamptz, $5::bytea) RETURNING id)
		INSERT INTO refresh_tokens (hash, session_id, generation, created_at, replay_id)
		SELECT $1::text, $2::text, $3::integer, $4::timestamptz, rp.id FROM refresh_tokens, rp
		WHERE session_id = $2::text AND generation = $7::integer AND hash = $6 AND $3::integer = $7::integer + 1`,
	time:       func(t time.Time) any { return t.UTC().Truncate(time.Microsecond) },
	userRoles:  `(SELECT COALESCE(json_agg(role ORDER BY pos), '[]')::text FROM user_roles WHERE user_id = u.id)`,
	userGroups: `(SELECT COALESCE(json_agg(group_name ORDER BY pos), '[]')::text FROM user_groups WHERE user_id = u.id)`,
	roleInUse: `SELECT EXISTS (SELECT 1 FROM user_roles WHERE role = $1)
		OR EXISTS (SELECT 1 FROM groups WHERE roles::jsonb @> jsonb_build_array($1::text))
		OR EXISTS (SELECT 1 FROM roles WHERE inherits::jsonb @> jsonb_build_array($1::text) AND name <> $1)`,
	advisoryLock: `SELECT pg_advisory_xact_lock($1)`,
}).build()

// t encodes a time for the engine.
func (s *Store) t(t time.Time) any { return s.d.time(t) }

// nt encodes an optional time: NULL when nil.
func (s *Store) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.d.time(*t)
}

// prefixed qualifies each of a comma-separated column list with table alias t.
func prefixed(t, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = t + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
