package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Limits on identity fields.
const (
	MaxUsernameLen    = 64
	MaxEmailLen       = 254
	MaxDisplayNameLen = 128
)

// fold case-folds s. A cases.Caser is not safe for concurrent use, so each
// call makes its own (cheap).
func fold(s string) string { return cases.Fold().String(s) }

// NormalizeUsername returns the username as stored (NFKC) and its unique key
// (NFKC, case-folded, NFKC again). It accepts letters, digits, and . _ - @ +,
// 1 to 64 characters; anything else (spaces, controls, symbols, invisible
// characters) is refused, so no two distinct-looking names map to one key
// and no control character can hide in a name.
func NormalizeUsername(s string) (display, key string, err error) {
	if !utf8.ValidString(s) {
		return "", "", apperr.InvalidField("username", "must be valid UTF-8")
	}
	display = norm.NFKC.String(s)
	n := utf8.RuneCountInString(display)
	if n < 1 || n > MaxUsernameLen {
		return "", "", apperr.InvalidField("username", "must be 1 to 64 characters")
	}
	for _, r := range display {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@+", r)) {
			return "", "", apperr.InvalidField("username", "may contain only letters, digits and . _ - @ +")
		}
	}
	key = norm.NFKC.String(fold(display))
	return display, key, nil
}

// UsernameKey returns the lookup key of a username as typed at sign-in, or
// "" when it cannot be a valid username.
func UsernameKey(s string) string {
	_, k, err := NormalizeUsername(s)
	if err != nil {
		return ""
	}
	return k
}

// NormalizeEmail validates an email address and returns it with its unique
// key (lower-cased). "" is allowed and returns "", "".
func NormalizeEmail(s string) (email, key string, err error) {
	if s == "" {
		return "", "", nil
	}
	if !utf8.ValidString(s) || len(s) > MaxEmailLen {
		return "", "", apperr.InvalidField("email", "must be a valid address of at most 254 bytes")
	}
	s = norm.NFKC.String(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s, "@") {
		return "", "", apperr.InvalidField("email", "must be a plain address like name@example.com")
	}
	return s, strings.ToLower(fold(s)), nil
}

// ValidateDisplayName checks length and refuses control characters.
func ValidateDisplayName(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayNameLen {
		return apperr.InvalidField("display_name", "must be at most 128 characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return apperr.InvalidField("display_name", "must not contain control characters")
		}
	}
	return nil
}
