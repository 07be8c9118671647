package oauth

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Error is an RFC 6749 §5.2 error. Status is the HTTP status to answer with;
// Extra adds members to the JSON body (mfa_token and friends).
type Error struct {
	Code        string
	Description string
	Status      int
	RetryAfter  time.Duration
	Extra       map[string]string
	Headers     map[string]string // response headers (RateLimit-*)
	cause       error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Description + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the cause (logged, never sent).
func (e *Error) Unwrap() error { return e.cause }

// RFC 6749 and extension error codes.
const (
	ErrInvalidRequest         = "invalid_request"
	ErrInvalidClient          = "invalid_client"
	ErrInvalidGrant           = "invalid_grant"
	ErrUnauthorizedClient     = "unauthorized_client"
	ErrUnsupportedGrantType   = "unsupported_grant_type"
	ErrInvalidScope           = "invalid_scope"
	ErrInvalidTarget          = "invalid_target" // RFC 8707
	ErrServerError            = "server_error"
	ErrTemporarilyUnavailable = "temporarily_unavailable"
	ErrUnsupportedTokenType   = "unsupported_token_type" // RFC 7009
	ErrInvalidToken           = "invalid_token"          // RFC 6750
	ErrInsufficientScope      = "insufficient_scope"     // RFC 6750
	ErrMFARequired            = "mfa_required"
	ErrMFAEnrollmentRequired  = "mfa_enrollment_required"
	ErrPasswordChangeRequired = "password_change_required"
	ErrSlowDown               = "slow_down"
)

func oerr(status int, code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest is a 400 invalid_request.
func InvalidRequest(desc string) *Error { return oerr(400, ErrInvalidRequest, desc) }

// InvalidGrant is a 400 invalid_grant.
func InvalidGrant(desc string) *Error { return oerr(400, ErrInvalidGrant, desc) }

// InvalidClient is a 401 invalid_client.
func InvalidClient(desc string) *Error { return oerr(401, ErrInvalidClient, desc) }

// UnauthorizedClient is a 400 unauthorized_client.
func UnauthorizedClient(desc string) *Error { return oerr(400, ErrUnauthorizedClient, desc) }

// FromAppErr turns a domain error into an RFC 6749 error: unavailability
// becomes temporarily_unavailable (503), rate limits 429, and anything
// unexpected server_error (500, cause kept for the log).
func FromAppErr(err error) *Error {
	if oe, ok := err.(*Error); ok {
		return oe
	}
	ae, ok := apperr.As(err)
	if !ok {
		return &Error{Code: ErrServerError, Description: "internal error", Status: 500, cause: err}
	}
	switch ae.Kind {
	case apperr.KindUnavailable:
		return &Error{Code: ErrTemporarilyUnavailable, Description: ae.Detail, Status: 503, RetryAfter: ae.RetryAfter, cause: err}
	case apperr.KindRateLimited:
		return &Error{Code: ErrSlowDown, Description: ae.Detail, Status: 429, RetryAfter: ae.RetryAfter, Headers: ae.Headers, cause: err}
	case apperr.KindMalformed, apperr.KindInvalid:
		return &Error{Code: ErrInvalidRequest, Description: ae.Detail, Status: 400, cause: err}
	case apperr.KindTooLarge:
		return &Error{Code: ErrInvalidRequest, Description: ae.Detail, Status: 413, cause: err}
	case apperr.KindMethodNotAllowed:
		return &Error{Code: ErrInvalidRequest, Description: ae.Detail, Status: 405, cause: err}
	case apperr.KindUnsupportedMediaType:
		return &Error{Code: ErrInvalidRequest, Description: ae.Detail, Status: 415, cause: err}
	case apperr.KindUnauthenticated:
		return &Error{Code: ErrInvalidClient, Description: ae.Detail, Status: 401, cause: err}
	case apperr.KindNotFound, apperr.KindForbidden, apperr.KindConflict:
		return &Error{Code: ErrInvalidGrant, Description: ae.Detail, Status: 400, cause: err}
	}
	return &Error{Code: ErrServerError, Description: "internal error", Status: 500, cause: err}
}
