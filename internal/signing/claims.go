package signing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Errors of Claims.Validate, usable with errors.Is.
var (
	// ErrIssuer: iss is not the expected issuer.
	ErrIssuer = errors.New("signing: wrong issuer")
	// ErrAudience: aud does not contain the expected audience.
	ErrAudience = errors.New("signing: wrong audience")
	// ErrExpired: exp is missing or has passed.
	ErrExpired = errors.New("signing: token expired")
	// ErrNotYetValid: nbf or iat lies in the future.
	ErrNotYetValid = errors.New("signing: token not yet valid")
)

// Claims are the registered claims Gatehouse checks (RFC 7519 §4.1), in
// seconds since the Unix epoch. Embed it in a token's claims struct.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti,omitempty"`
}

// Validate checks, in this order, that iss equals issuer (ErrIssuer); that
// aud contains audience when audience is not empty (ErrAudience); that exp
// is set and now is before exp+leeway (ErrExpired, RFC 7519 §4.1.4); and
// that now+leeway is not before nbf or iat when they are set
// (ErrNotYetValid). Times compare in whole seconds; leeway is truncated to
// seconds.
func (c Claims) Validate(issuer, audience string, now time.Time, leeway time.Duration) error {
	if c.Issuer != issuer {
		return ErrIssuer
	}
	if audience != "" && !slices.Contains(c.Audience, audience) {
		return ErrAudience
	}
	t := now.Unix()
	skew := int64(leeway / time.Second)
	if skew < 0 {
		skew = 0
	}
	if c.Expiry == 0 || t >= addSat(c.Expiry, skew) {
		return ErrExpired
	}
	if c.NotBefore != 0 && addSat(t, skew) < c.NotBefore {
		return ErrNotYetValid
	}
	if c.IssuedAt != 0 && addSat(t, skew) < c.IssuedAt {
		return ErrNotYetValid
	}
	return nil
}

// addSat returns a+b for b ≥ 0, saturating at math.MaxInt64 instead of
// wrapping, so an absurd exp cannot turn into a past one.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Audience is the aud claim (RFC 7519 §4.1.3): one or more audiences.
// It encodes as a single string when it has exactly one element and as an
// array otherwise, and decodes from either form.
type Audience []string

// MarshalJSON encodes a single audience as a string, any other number
// (including none) as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string, an array of strings, or null (leaving a
// unchanged); anything else is an error.
func (a *Audience) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("signing: aud must be a string or an array of strings: %w", err)
	}
	*a = list
	return nil
}
