// Package mfa holds second factors (SPEC §6): TOTP enrolment and
// verification (RFC 6238) with replay protection, and single-use recovery
// codes. It takes parsed input and never sees an HTTP request or SQL.
//
// Secrets are sealed at rest under the master key; recovery codes are kept
// only as hashes. Every accepted TOTP code records its 30-second step in the
// store, so a code is accepted once even across a cluster.
package mfa

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Stable error codes of this package (see apperr/codes.go for the others).
const (
	// CodeAlreadyEnrolled (409): a confirmed TOTP enrolment exists; Remove it first.
	CodeAlreadyEnrolled = "mfa_already_enrolled"
	// CodeNoPendingEnrollment (409): Confirm without a pending enrolment.
	CodeNoPendingEnrollment = "mfa_no_pending_enrollment"
	// CodeNotEnrolled (404): the user has no (confirmed) TOTP enrolment.
	CodeNotEnrolled = "mfa_not_enrolled"
	// CodeInvalidOTP (422): the one-time code is wrong, expired or already used.
	CodeInvalidOTP = "invalid_otp"
)

var (
	errAlreadyEnrolled = apperr.Conflict(CodeAlreadyEnrolled, "TOTP is already set up; remove it before enrolling again")
	errNoPending       = apperr.Conflict(CodeNoPendingEnrollment, "there is no TOTP enrolment to confirm; start one first")
	errNotEnrolled     = apperr.NotFound(CodeNotEnrolled, "TOTP is not set up")
	errInvalidOTP      = apperr.Invalid(CodeInvalidOTP, "the code is wrong or expired").
				WithField("otp", "must be the current 6-digit code of the authenticator app")
)

// Options configures the Service.
type Options struct {
	// Issuer names the service in authenticator apps ("Gatehouse", or the
	// host). "" means "Gatehouse". A colon, which would split the account
	// label of the otpauth URI, is replaced by a hyphen.
	Issuer string
	// Skew is how many 30-second steps either side of the current one are
	// accepted, for clocks that drift. SPEC §6 says 1; the zero value is
	// read as 1 (exact-step matching is not offered), and more than
	// MaxSkew is read as MaxSkew.
	Skew uint
}

// MaxSkew bounds Options.Skew: every step of tolerance widens the window a
// guessed code may hit.
const MaxSkew = 5

// DefaultOptions returns the Issuer "Gatehouse" and a skew of one step.
func DefaultOptions() Options { return Options{Issuer: "Gatehouse", Skew: 1} }

// TOTP is a user's TOTP enrolment: pending until a first code confirms it.
type TOTP struct {
	UserID string
	// SecretSealed is the 20-byte secret sealed with the keyring under the
	// associated data "totp:"+UserID, so a row copied to another user does
	// not open.
	SecretSealed string
	Confirmed    bool
	CreatedAt    time.Time
	ConfirmedAt  *time.Time
	// LastStep is the newest time step (unix time / 30) whose code was
	// accepted; 0 when none. Codes of this step or earlier are refused.
	LastStep int64
}

// Enrollment is what Begin returns, shown to the user once.
type Enrollment struct {
	// Secret is the base32 secret (no padding) for manual entry.
	Secret string
	// URI is the otpauth://totp/Issuer:username?… key URI (Google
	// Authenticator key URI format) with SHA1, 6 digits, 30 s.
	URI string
	// QRPNG is a PNG of the URI as a QR code.
	QRPNG []byte
}

// Store is what the mfa package needs from storage. Errors are
// *apperr.Error: NotFound or Conflict where stated, else Internal or
// Unavailable.
type Store interface {
	// InTx runs fn in one transaction, carried by the context fn receives;
	// called inside a transaction it joins it.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	// GetTOTP returns the user's enrolment, pending or confirmed;
	// NotFound mfa_not_enrolled when there is none.
	GetTOTP(ctx context.Context, userID string) (*TOTP, error)
	// PutPendingTOTP stores t (Confirmed false, LastStep 0) as the user's
	// pending enrolment, replacing a pending one, in one atomic statement.
	// Conflict mfa_already_enrolled when the user has a confirmed
	// enrolment; NotFound user_not_found when the user does not exist.
	PutPendingTOTP(ctx context.Context, t *TOTP) error
	// ConfirmTOTP atomically confirms the user's pending enrolment whose
	// secret is sealed as secretSealed, at now, recording step as its
	// LastStep. False when there is no such pending enrolment (none,
	// replaced by a newer Begin, or already confirmed) or step is not after
	// its LastStep.
	ConfirmTOTP(ctx context.Context, userID, secretSealed string, step int64, now time.Time) (bool, error)
	// UseTOTPStep atomically records that a code of step was accepted for
	// the user's confirmed enrolment. False when the enrolment is missing
	// or not confirmed, or a code of this step or a later one was already
	// accepted (a replay).
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// ListSealedTOTP returns the user id (as ID) and sealed secret of up
	// to limit enrolments, pending and confirmed, of users after
	// afterUserID, by user id; inside a transaction they stay locked until
	// it ends.
	ListSealedTOTP(ctx context.Context, afterUserID string, limit int) ([]secret.Stored, error)
	// UpdateTOTPSealed stores fresh as the user's sealed secret when it
	// still is old, changing nothing else; false when it is not (or there
	// is no enrolment).
	UpdateTOTPSealed(ctx context.Context, userID, old, fresh string) (bool, error)
	// DeleteTOTP removes the user's enrolment; NotFound mfa_not_enrolled
	// when there is none.
	DeleteTOTP(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes replaces every recovery code of the user with
	// hashes (created at now); with no hashes it removes them all.
	// NotFound user_not_found when the user does not exist.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode atomically marks the user's unused code of that hash
	// as used at now; false when there is none (unknown or already used).
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (bool, error)
	// CountRecoveryCodes counts the user's unused recovery codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// Users keeps the user record's TOTP flag (user.User.TOTPEnabled) in step
// with the enrolment; the user package implements it. The Service calls it
// inside its own transaction, so implementations must use the context they
// are given.
type Users interface {
	SetTOTPEnabled(ctx context.Context, userID string, on bool) error
}
