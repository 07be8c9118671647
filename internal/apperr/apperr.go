// Package apperr is the one error vocabulary of Gatehouse's domain.
//
// Every error that crosses a package boundary towards a client is an *Error
// with a Kind (which decides the HTTP status), a stable snake_case Code
// (listed in codes.go), a Detail that is safe to show to the client, optional
// per-field messages, and an optional cause that is logged but never sent.
// Anything that is not an *Error is treated as Internal at the edge.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error; the server maps each Kind to one HTTP status.
type Kind int

// The kinds of error. Their order is not meaningful.
const (
	KindInternal        Kind = iota // 500: a bug or an unexpected failure
	KindMalformed                   // 400: bad syntax (bad JSON, unknown field, wrong type)
	KindInvalid                     // 422: well-formed but fails validation
	KindUnauthenticated             // 401: no or bad credentials
	KindForbidden                   // 403: authenticated, not allowed
	KindNotFound                    // 404
	KindConflict                    // 409: duplicate, or a safeguard refused the change
	KindTooLarge                    // 413: request body over the limit
	KindRateLimited                 // 429
	KindUnavailable                 // 503: a dependency is down or a pool is full

	KindMethodNotAllowed     // 405: the resource exists, but not for this method
	KindUnsupportedMediaType // 415: the body is not in a media type the endpoint takes
)

var kindNames = map[Kind]string{
	KindInternal:        "internal",
	KindMalformed:       "malformed",
	KindInvalid:         "invalid",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindTooLarge:        "too_large",
	KindRateLimited:     "rate_limited",
	KindUnavailable:     "unavailable",

	KindMethodNotAllowed:     "method_not_allowed",
	KindUnsupportedMediaType: "unsupported_media_type",
}

func (k Kind) String() string { return kindNames[k] }

// Error is a domain error that is safe to render to a client.
type Error struct {
	Kind   Kind
	Code   string            // stable, snake_case; see codes.go
	Detail string            // human-readable, safe for clients; never a secret
	Fields map[string]string // per-field validation messages (KindInvalid)
	// RetryAfter, when positive, is sent as the Retry-After header (429, 503).
	RetryAfter time.Duration
	// Headers are response headers that belong to the answer (the
	// RateLimit-* headers of a refusal). Never a secret.
	Headers map[string]string
	Err     error // cause: logged, never sent
}

func (e *Error) Error() string {
	msg := e.Kind.String() + ": " + e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WithCause returns a copy of e with err as its cause.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// WithField returns a copy of e with one more per-field message.
func (e *Error) WithField(field, msg string) *Error {
	c := *e
	c.Fields = make(map[string]string, len(e.Fields)+1)
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	c.Fields[field] = msg
	return &c
}

func newf(k Kind, code, format string, args ...any) *Error {
	d := format
	if len(args) > 0 {
		d = fmt.Sprintf(format, args...)
	}
	return &Error{Kind: k, Code: code, Detail: d}
}

// Malformed reports bad request syntax (400).
func Malformed(code, format string, args ...any) *Error {
	return newf(KindMalformed, code, format, args...)
}

// Invalid reports a well-formed request that fails validation (422).
func Invalid(code, format string, args ...any) *Error {
	return newf(KindInvalid, code, format, args...)
}

// InvalidField reports a validation failure of one field (422).
func InvalidField(field, msg string) *Error {
	return &Error{Kind: KindInvalid, Code: CodeValidationFailed, Detail: "the request has invalid fields", Fields: map[string]string{field: msg}}
}

// Unauthenticated reports missing or bad credentials (401).
func Unauthenticated(code, format string, args ...any) *Error {
	return newf(KindUnauthenticated, code, format, args...)
}

// Forbidden reports a refused action of an authenticated caller (403).
func Forbidden(code, format string, args ...any) *Error {
	return newf(KindForbidden, code, format, args...)
}

// NotFound reports a missing resource (404).
func NotFound(code, format string, args ...any) *Error {
	return newf(KindNotFound, code, format, args...)
}

// Conflict reports a duplicate or a refused safeguard (409).
func Conflict(code, format string, args ...any) *Error {
	return newf(KindConflict, code, format, args...)
}

// TooLarge reports a request body over the limit (413).
func TooLarge(code, format string, args ...any) *Error {
	return newf(KindTooLarge, code, format, args...)
}

// MethodNotAllowed reports a method the resource does not serve (405); the
// caller adds the Allow header to Headers.
func MethodNotAllowed(code, format string, args ...any) *Error {
	return newf(KindMethodNotAllowed, code, format, args...)
}

// UnsupportedMediaType reports a body whose Content-Type the endpoint does
// not take (415).
func UnsupportedMediaType(code, format string, args ...any) *Error {
	return newf(KindUnsupportedMediaType, code, format, args...)
}

// RateLimited reports a refusal by a rate limiter (429).
func RateLimited(code string, retryAfter time.Duration, format string, args ...any) *Error {
	e := newf(KindRateLimited, code, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Unavailable reports a missing dependency or a full pool (503).
func Unavailable(code string, retryAfter time.Duration, format string, args ...any) *Error {
	e := newf(KindUnavailable, code, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Internal wraps an unexpected failure (500). The cause is never sent.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Detail: "internal error", Err: err}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the Kind of err: KindInternal for anything that is not an *Error.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the Code of err, or "" when err is not an *Error.
func CodeOf(err error) string {
	if e, ok := As(err); ok {
		return e.Code
	}
	return ""
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}
