package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// mapErr translates an error of the driver or database/sql into the apperr
// vocabulary: *apperr.Error passes through, sql.ErrNoRows is NotFound, an
// unreachable, overloaded or busy database is Unavailable, anything else is
// Internal. The driver error is kept as the cause, never shown to clients.
// Unique violations are mapped by the caller, which knows the domain code.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFound(apperr.CodeNotFound, "not found")
	}
	if isUnavailable(err) {
		return unavailable(err)
	}
	return apperr.Internal(err)
}

// notFound maps sql.ErrNoRows to NotFound with the given code, and any other
// error as mapErr does.
func (s *Store) notFound(err error, code, detail string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFound(code, "%s", detail)
	}
	return s.mapErr(err)
}

// unavailable wraps err as a 503 so credential endpoints fail closed.
func unavailable(err error) error {
	return apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the database is unavailable").WithCause(err)
}

// isUnavailable reports whether err means the database cannot answer now
// (connection lost or refused, server shutting down, too many connections,
// SQLite busy past busy_timeout, deadline exceeded) rather than a bug.
func isUnavailable(err error) bool {
	// A request that gave up (its context ended) gets the same retryable
	// answer as a database that did not answer in time.
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "53300",                     // too_many_connections
			pe.Code == "57P01", pe.Code == "57P02", // admin / crash shutdown
			pe.Code == "57P03": // cannot_connect_now
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// uniqueViolation reports whether err is a unique-constraint violation and
// returns a description that names the violated index or column: the
// PostgreSQL constraint name ("users_email_key") or the SQLite message
// ("UNIQUE constraint failed: users.email_key"). Index and column names are
// chosen so the same substring identifies them on both engines.
func uniqueViolation(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName, pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return se.Error(), true
		}
	}
	return "", false
}

// conflictOr maps a unique violation to Conflict code (any other error as
// mapErr does).
func (s *Store) conflictOr(err error, code, detail string) error {
	if _, ok := uniqueViolation(err); ok {
		return apperr.Conflict(code, "%s", detail).WithCause(err)
	}
	return s.mapErr(err)
}

// foreignKeyViolation reports whether err is a foreign-key violation (a row
// refers to a user or session that does not exist, or no longer does).
func foreignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// affectedOne checks the result of a statement that must change a row:
// NotFound with code when it changed none.
func (s *Store) affectedOne(res sql.Result, err error, code, detail string) error {
	if err != nil {
		return s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.mapErr(err)
	}
	if n == 0 {
		return apperr.NotFound(code, "%s", detail)
	}
	return nil
}
