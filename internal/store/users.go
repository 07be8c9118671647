package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/user"
)

// userColumns are the users columns scanUser reads, before roles and groups.
const userColumns = `u.id, u.username, u.username_key, u.email, COALESCE(u.email_key, ''),
	u.display_name, u.status, u.password_hash, u.must_change_password, u.totp_enabled,
	u.created_at, u.updated_at, u.last_login_at, u.locked_until, u.password_changed_at`

const insertUser = `INSERT INTO users (id, username, username_key, email, email_key,
	display_name, search, status, password_hash, must_change_password, totp_enabled,
	created_at, updated_at, last_login_at, locked_until, password_changed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

const updateUser = `UPDATE users SET username = $2, username_key = $3, email = $4, email_key = $5,
	display_name = $6, search = $7, status = $8, password_hash = $9, must_change_password = $10,
	totp_enabled = $11, created_at = $12, updated_at = $13, last_login_at = $14,
	locked_until = $15, password_changed_at = $16
	WHERE id = $1`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (*user.User, error) {
	u := new(user.User)
	var status string
	if err := sc.Scan(userDest(u, &status)...); err != nil {
		return nil, err
	}
	u.Status = user.Status(status)
	return u, nil
}

// userDest is where a row of userColumns, roles and groups scans into u
// (the status into status).
func userDest(u *user.User, status *string) []any {
	return []any{&u.ID, &u.Username, &u.UsernameKey, &u.Email, &u.EmailKey,
		&u.DisplayName, status, &u.PasswordHash, &u.MustChangePassword, &u.TOTPEnabled,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, nullTimeCol{&u.LastLoginAt},
		nullTimeCol{&u.LockedUntil}, nullTimeCol{&u.PasswordChangedAt},
		listCol{&u.Roles}, listCol{&u.Groups}}
}

// userArgs returns the arguments of insertUser and updateUser.
func (s *Store) userArgs(u *user.User) []any {
	// search backs ListUsers' case-insensitive substring match: lower-cased
	// in Go, so it is Unicode-aware on both engines (SQLite's lower() is ASCII).
	search := strings.ToLower(u.Username + "\n" + u.Email + "\n" + u.DisplayName)
	return []any{u.ID, u.Username, u.UsernameKey, u.Email, nullStr(u.EmailKey),
		u.DisplayName, search, string(u.Status), u.PasswordHash, u.MustChangePassword, u.TOTPEnabled,
		s.t(u.CreatedAt), s.t(u.UpdatedAt), s.nt(u.LastLoginAt), s.nt(u.LockedUntil), s.nt(u.PasswordChangedAt)}
}

// userConflict maps a unique violation of users to username_taken or
// email_taken.
func (s *Store) userConflict(err error) error {
	if c, ok := uniqueViolation(err); ok {
		switch {
		case strings.Contains(c, "email_key"):
			return apperr.Conflict(apperr.CodeEmailTaken, "the email address is already in use").WithCause(err)
		case strings.Contains(c, "username_key"):
			return apperr.Conflict(apperr.CodeUsernameTaken, "the username is already taken").WithCause(err)
		}
	}
	return s.mapErr(err)
}

// CreateUser inserts u with its roles and groups (repeats dropped).
// Conflict username_taken or email_taken on duplicates.
func (s *Store) CreateUser(ctx context.Context, u *user.User) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.wr(ctx).exec(ctx, insertUser, s.userArgs(u)...); err != nil {
			return s.userConflict(err)
		}
		if err := s.setMembers(ctx, "user_roles", "role", u.ID, u.Roles); err != nil {
			return err
		}
		return s.setMembers(ctx, "user_groups", "group_name", u.ID, u.Groups)
	})
}

// setMembers inserts the rows of a join table for the user, in order.
// table and col are constants of this package, never input.
func (s *Store) setMembers(ctx context.Context, table, col, userID string, names []string) error {
	q := "INSERT INTO " + table + " (user_id, " + col + ", pos) VALUES ($1, $2, $3)"
	for i, n := range dedupe(names) {
		if _, err := s.wr(ctx).exec(ctx, q, userID, n, i); err != nil {
			return s.mapErr(err)
		}
	}
	return nil
}

// replaceMembers replaces the user's rows of a join table.
func (s *Store) replaceMembers(ctx context.Context, table, col, userID string, names []string) error {
	if _, err := s.wr(ctx).exec(ctx, "DELETE FROM "+table+" WHERE user_id = $1", userID); err != nil {
		return s.mapErr(err)
	}
	return s.setMembers(ctx, table, col, userID, names)
}

// GetUser returns the user with that id; NotFound user_not_found.
func (s *Store) GetUser(ctx context.Context, id string) (*user.User, error) {
	u, err := scanUser(s.rd(ctx).queryRow(ctx, s.d.getUser, id))
	if err != nil {
		return nil, s.notFound(err, apperr.CodeUserNotFound, "user not found")
	}
	return u, nil
}

// GetUserByUsername looks a user up by UsernameKey; NotFound user_not_found.
func (s *Store) GetUserByUsername(ctx context.Context, usernameKey string) (*user.User, error) {
	u, err := scanUser(s.rd(ctx).queryRow(ctx, s.d.getUserByUsername, usernameKey))
	if err != nil {
		return nil, s.notFound(err, apperr.CodeUserNotFound, "user not found")
	}
	return u, nil
}

// DefaultListLimit is the page size of listings whose query gives no limit.
const DefaultListLimit = 100

// ListUsers returns up to q.Limit users (DefaultListLimit when not positive)
// ordered by UsernameKey (bytewise) after q.After, optionally only those of
// q.Status and those whose username, email or display name contains q.Q
// (case-insensitive, literally: % and _ are not wildcards).
func (s *Store) ListUsers(ctx context.Context, q user.ListQuery) ([]*user.User, error) {
	var a args
	var b strings.Builder
	b.WriteString(s.d.selectUsers)
	b.WriteString(" WHERE u.username_key > " + a.add(q.After))
	if q.Status != "" {
		b.WriteString(" AND u.status = " + a.add(string(q.Status)))
	}
	if q.Q != "" {
		b.WriteString(" AND u.search LIKE " + a.add(containsPattern(strings.ToLower(q.Q))) + ` ESCAPE '\'`)
	}
	b.WriteString(" ORDER BY u.username_key LIMIT " + a.add(limit(q.Limit, DefaultListLimit)))
	rows, err := s.rd(ctx).query(ctx, b.String(), a...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*user.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// UpdateUser reads the user under a row lock (SQLite: the transaction's
// write lock), applies fn, and writes back every field including roles and
// groups, in the caller's transaction when there is one. fn's error aborts
// the update and is returned as is; fn cannot change the id.
// NotFound user_not_found; Conflict email_taken or username_taken.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*user.User) error) (*user.User, error) {
	var out *user.User
	err := s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		u, err := scanUser(w.queryRow(ctx, s.d.getUserForUpdate, id))
		if err != nil {
			return s.notFound(err, apperr.CodeUserNotFound, "user not found")
		}
		oldRoles, oldGroups := slices.Clone(u.Roles), slices.Clone(u.Groups)
		if err := fn(u); err != nil {
			return err
		}
		u.ID = id
		u.Roles, u.Groups = dedupe(u.Roles), dedupe(u.Groups)
		if _, err := w.exec(ctx, updateUser, s.userArgs(u)...); err != nil {
			return s.userConflict(err)
		}
		if !slices.Equal(oldRoles, u.Roles) {
			if err := s.replaceMembers(ctx, "user_roles", "role", id, u.Roles); err != nil {
				return err
			}
		}
		if !slices.Equal(oldGroups, u.Groups) {
			if err := s.replaceMembers(ctx, "user_groups", "group_name", id, u.Groups); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser removes the user; its roles, groups, sessions (with their
// refresh tokens) and one-time tokens go with it (ON DELETE CASCADE).
// NotFound user_not_found.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res, err := s.wr(ctx).exec(ctx, "DELETE FROM users WHERE id = $1", id)
	return s.affectedOne(res, err, apperr.CodeUserNotFound, "user not found")
}

// ListActiveGrants returns the direct roles and groups of every active user
// that has any of roles directly or belongs to any of groups (none when both
// are empty), for the last-admin safeguard (rbac.Service.CountAdmins).
func (s *Store) ListActiveGrants(ctx context.Context, roles, groups []string) ([]rbac.UserGrants, error) {
	if len(roles) == 0 && len(groups) == 0 {
		return nil, nil
	}
	var a args
	var conds []string
	if len(roles) > 0 {
		conds = append(conds, "EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN "+a.in(roles)+")")
	}
	if len(groups) > 0 {
		conds = append(conds, "EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = u.id AND g.group_name IN "+a.in(groups)+")")
	}
	q := "SELECT " + s.d.userRoles + ", " + s.d.userGroups + " FROM users u WHERE u.status = " +
		a.add(string(user.StatusActive)) + " AND (" + strings.Join(conds, " OR ") + ")"
	rows, err := s.rd(ctx).query(ctx, q, a...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []rbac.UserGrants
	for rows.Next() {
		var g rbac.UserGrants
		if err := rows.Scan(listCol{&g.Roles}, listCol{&g.Groups}); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// LockAdmins serializes admin-safeguard checks: a transaction-scoped
// advisory lock on PostgreSQL, nothing on SQLite (its write transactions are
// serial). Internal when called outside InTx.
func (s *Store) LockAdmins(ctx context.Context) error {
	return s.advisoryLock(ctx, lockKeyAdmins, "LockAdmins")
}

// advisoryLock takes the advisory lock of key for the rest of the context's
// transaction.
func (s *Store) advisoryLock(ctx context.Context, key int64, name string) error {
	if !s.inTx(ctx) {
		return apperr.Internal(fmt.Errorf("store: %s called outside InTx", name))
	}
	if s.d.advisoryLock == "" {
		return nil
	}
	_, err := s.wr(ctx).exec(ctx, s.d.advisoryLock, key)
	return s.mapErr(err)
}
