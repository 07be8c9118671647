// Package user holds accounts: their statuses, usernames and emails, password
// hashing and verification, one-time tokens (activation and friends), and the
// Service that changes them with their audit events.
package user

import (
	"context"
	"time"
)

// Status is the lifecycle state of an account (SPEC §3).
type Status string

// The statuses. Only StatusActive users can get tokens.
const (
	StatusPending  Status = "pending"  // created without a password; must activate
	StatusActive   Status = "active"   //
	StatusLocked   Status = "locked"   // temporarily, until LockedUntil
	StatusDisabled Status = "disabled" // by an admin
)

// CanUseTokens reports whether a user in this status may use the tokens and
// sessions they have. A lockout stops password guessing; it does not end the
// owner's sessions, nor sign-ins from the owner's usual addresses.
func (s Status) CanUseTokens() bool { return s == StatusActive || s == StatusLocked }

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusActive, StatusLocked, StatusDisabled:
		return true
	}
	return false
}

// User is an account. Username is kept as given (after NFKC); UsernameKey is
// its case-folded form, unique across users. EmailKey likewise for Email.
type User struct {
	ID           string
	Username     string
	UsernameKey  string
	Email        string // "" when none
	EmailKey     string // "" when none
	DisplayName  string
	Status       Status
	Roles        []string // direct roles
	Groups       []string
	PasswordHash string // PHC argon2id or bcrypt; "" for pending users
	// MustChangePassword is set for a generated bootstrap password: the
	// password grant refuses with password_change_required until it changes.
	MustChangePassword bool
	TOTPEnabled        bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	LastLoginAt        *time.Time
	LockedUntil        *time.Time
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt *time.Time
}

// withExpiredLock returns u as it stands at now: a lock whose time is up
// reads as active (the stored row catches up at the next sign-in).
func withExpiredLock(u *User, now time.Time) *User {
	if u != nil && u.Status == StatusLocked && (u.LockedUntil == nil || !u.LockedUntil.After(now)) {
		u.Status, u.LockedUntil = StatusActive, nil
	}
	return u
}

// ListQuery selects users for listing. After is the UsernameKey of the last
// user of the previous page ("" for the first page).
type ListQuery struct {
	Q      string // substring of username, email or display name (case-insensitive)
	Status Status // "" for any
	Limit  int
	After  string
}

// TokenKind names the purpose of a one-time token.
type TokenKind string

// The kinds of one-time token.
const (
	TokenActivation     TokenKind = "activation"
	TokenMFA            TokenKind = "mfa"             // completes the MFA grant
	TokenMFAEnrollment  TokenKind = "mfa_enrollment"  // only the enrolment endpoints take it
	TokenPasswordChange TokenKind = "password_change" // only POST /api/v1/me/password takes it
)

// OneTimeToken is a single-use, expiring token stored only as its hash.
type OneTimeToken struct {
	Hash      string // secret.Hash of the token
	Kind      TokenKind
	UserID    string
	ClientID  string // for mfa tokens: bound to the client that asked
	Data      string // small JSON payload for the consumer (never a secret)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Store is what the user package needs from storage. Errors are *apperr.Error
// of kind NotFound or Conflict where stated, else Internal.
type Store interface {
	// InTx runs fn in one transaction, carried by the context fn receives.
	// Called with a context already in a transaction, it joins it.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	// CreateUser inserts u with its roles and groups.
	// Conflict username_taken / email_taken on duplicates.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user with that id; NotFound user_not_found.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByUsername looks a user up by UsernameKey; NotFound user_not_found.
	GetUserByUsername(ctx context.Context, usernameKey string) (*User, error)
	// ListUsers returns up to q.Limit users ordered by UsernameKey after q.After.
	ListUsers(ctx context.Context, q ListQuery) ([]*User, error)
	// UpdateUser reads the user under a row lock, applies fn, and writes back
	// every field including roles and groups (in the caller's transaction
	// when there is one). fn's error aborts the update and is returned as is.
	// NotFound user_not_found; Conflict email_taken.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (*User, error)
	// DeleteUser removes the user, its roles, groups, sessions and tokens.
	DeleteUser(ctx context.Context, id string) error

	// CreateOneTimeToken stores t.
	CreateOneTimeToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeOneTimeToken atomically marks the unexpired, unused token of that
	// hash and kind as used at now and returns it; NotFound when there is none.
	ConsumeOneTimeToken(ctx context.Context, hash string, kind TokenKind, now time.Time) (*OneTimeToken, error)
	// GetOneTimeToken returns the unexpired, unused token without consuming it.
	GetOneTimeToken(ctx context.Context, hash string, kind TokenKind, now time.Time) (*OneTimeToken, error)
	// DeleteOneTimeTokens removes every token of that kind for the user.
	DeleteOneTimeTokens(ctx context.Context, userID string, kind TokenKind) error

	ProtectionStore
}

// Lockout buckets: failures from addresses the user signed in from in the
// last 30 days count apart from failures elsewhere, so an attacker cannot
// lock the owner out of their usual place; MFA failures count apart too.
const (
	BucketPassword      = "pwd"
	BucketPasswordKnown = "pwd_known"
	BucketMFA           = "mfa"
)

// Lockout is the failure counter of one bucket of one user.
type Lockout struct {
	UserID      string
	Bucket      string
	Failures    int
	WindowStart time.Time
	LockedUntil *time.Time
	// Locks counts consecutive locks without a success between them; each
	// doubles the next lock's duration.
	Locks int
}

// ProtectionStore is the storage of account protection, part of Store.
type ProtectionStore interface {
	// GetLockouts returns every bucket of the user (none when never failed).
	GetLockouts(ctx context.Context, userID string) ([]Lockout, error)
	// UpdateLockout reads the bucket under a row lock (creating it empty with
	// WindowStart now when missing), applies fn and writes it back, so a
	// check and its count are one atomic step. fn's error aborts as is.
	UpdateLockout(ctx context.Context, userID, bucket string, now time.Time, fn func(*Lockout) error) (*Lockout, error)
	// ClearLockouts removes every bucket of the user.
	ClearLockouts(ctx context.Context, userID string) error
	// IsKnownIP reports whether the user signed in successfully from ip since since.
	IsKnownIP(ctx context.Context, userID, ip string, since time.Time) (bool, error)
	// RecordKnownIP notes a successful sign-in from ip at at.
	RecordKnownIP(ctx context.Context, userID, ip string, at time.Time) error
	// AddPasswordHistory stores a former password hash and keeps only the newest keep.
	AddPasswordHistory(ctx context.Context, userID, hash string, at time.Time, keep int) error
	// ListPasswordHistory returns up to n former password hashes, newest first.
	ListPasswordHistory(ctx context.Context, userID string, n int) ([]string, error)
	// DeleteExpiredOneTimeTokens removes tokens that expired or were used before cutoff.
	DeleteExpiredOneTimeTokens(ctx context.Context, cutoff time.Time) (int, error)
}
