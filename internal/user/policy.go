package user

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/user/commonpw"
)

// Policy is the password policy (SPEC §4): length bounds, refusal of the
// 474,743 most common passwords of public breach lists (commonpw), and of
// passwords that contain the username or email. No composition rules and no
// forced expiry (NIST SP 800-63B, ASVS 5.0).
type Policy struct {
	MinLength int
	MaxLength int
	History   int
}

// DefaultPolicy returns min 12, max 256, no history.
func DefaultPolicy() Policy { return Policy{MinLength: 12, MaxLength: 256} }

// Check validates password for a user with that username and email. Length
// counts Unicode characters after NFC normalization. The error is a 422
// problem with a "password" field message that says what to do.
func (p Policy) Check(password, username, email string) error {
	if !utf8.ValidString(password) {
		return apperr.InvalidField("password", "must be valid UTF-8")
	}
	pw := norm.NFC.String(password)
	n := utf8.RuneCountInString(pw)
	if n < p.MinLength {
		return weak("must be at least %d characters; a few unrelated words make a strong, memorable password", p.MinLength)
	}
	if n > p.MaxLength {
		return weak("must be at most %d characters", p.MaxLength)
	}
	if commonpw.Contains(pw) {
		return weak("is one of the most common passwords (it appears in public breach lists); choose something others would not guess")
	}
	lower := strings.ToLower(fold(pw))
	if username != "" && utf8.RuneCountInString(username) >= 3 && strings.Contains(lower, strings.ToLower(fold(username))) {
		return weak("must not contain the username")
	}
	if email != "" {
		local, _, _ := strings.Cut(email, "@")
		if strings.Contains(lower, strings.ToLower(email)) || (utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, strings.ToLower(fold(local)))) {
			return weak("must not contain the email address")
		}
	}
	return nil
}

func weak(format string, args ...any) error {
	e := apperr.Invalid(apperr.CodeWeakPassword, "the password does not meet the password policy")
	return e.WithField("password", fmt.Sprintf(format, args...))
}
