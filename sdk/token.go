package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken matches (with errors.Is) every error of
// [Verifier.VerifyAccessToken]: the more precise errors below are for logs;
// clients should only ever learn "invalid_token".
var ErrInvalidToken = errors.New("sdk: invalid token")

// tokenError is one reason a token was refused; it matches ErrInvalidToken.
type tokenError struct{ msg string }

func (e *tokenError) Error() string        { return "sdk: invalid token: " + e.msg }
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }

// The reasons VerifyAccessToken refuses a token. Each matches ErrInvalidToken.
var (
	ErrTokenTooLarge = error(&tokenError{"larger than 8 KiB"})
	ErrMalformed     = error(&tokenError{"malformed"})
	ErrAlgorithm     = error(&tokenError{"algorithm not allowed"})
	ErrType          = error(&tokenError{"typ is not at+jwt"})
	ErrUnknownKey    = error(&tokenError{"unknown kid"})
	ErrSignature     = error(&tokenError{"bad signature"})
	ErrIssuer        = error(&tokenError{"wrong issuer"})
	ErrAudience      = error(&tokenError{"wrong audience"})
	ErrExpired       = error(&tokenError{"expired"})
	ErrNotYetValid   = error(&tokenError{"not yet valid"})
)

// Claims are the verified claims of a Gatehouse access token (RFC 9068 plus
// Gatehouse's roles, groups and authentication context).
type Claims struct {
	// Subject is the user id, or the client id for client_credentials.
	Subject string
	// ClientID is the OAuth client the token was issued to.
	ClientID string
	// Scope is the space-separated scope; Gatehouse puts the token's
	// permissions in it (plus OpenID Connect scopes such as openid).
	Scope string
	// Roles are the subject's effective roles: Gatehouse expands the role
	// hierarchy, so an admin's token also lists the roles admin inherits.
	Roles []string
	// Groups are the subject's groups.
	Groups []string
	// AMR lists the authentication methods (RFC 8176), such as pwd and otp.
	AMR []string
	// Audience is the aud claim as a list.
	Audience []string
	// Expiry and IssuedAt are exp and iat.
	Expiry, IssuedAt time.Time
	// ID is the jti; SessionID the sid of the session the token belongs to.
	ID, SessionID string
	// Raw is the token's claims as JSON, for claims without a field
	// (json.Unmarshal it into what you need).
	Raw json.RawMessage
}

// Scopes returns Scope as a list.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// VerifyAccessToken verifies a Gatehouse access token and returns its
// claims. It checks, in order: size (at most [MaxTokenSize]), compact JWS
// shape, the algorithm allow-list, typ at+jwt (or application/at+jwt, RFC
// 9068 §2.1), the kid (an unknown kid refetches the JWKS at most once per
// [JWKSRefreshInterval]), the signature, iss, aud (must contain the
// configured audience), exp (required), nbf and iat, with the configured
// leeway. Every error matches [ErrInvalidToken].
//
// It does not consult Gatehouse, so a token revoked before it expires stays
// valid here until exp; keep access tokens short-lived (Gatehouse's default
// is 15 minutes) or introspect when that matters.
func (v *Verifier) VerifyAccessToken(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenSize {
		return nil, ErrTokenTooLarge
	}
	if strings.Count(raw, ".") != 2 {
		return nil, ErrMalformed
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, ErrAlgorithm
		}
		return nil, ErrMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Header
	if !slices.Contains(v.algs, jose.SignatureAlgorithm(h.Algorithm)) {
		return nil, ErrAlgorithm
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, ErrType
	}
	if h.KeyID == "" {
		return nil, ErrUnknownKey
	}
	key, ok := v.key(ctx, h.KeyID)
	if !ok {
		return nil, ErrUnknownKey
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, ErrAlgorithm
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, ErrSignature
	}
	return v.claims(payload)
}

// claims decodes and validates the payload of a verified token.
func (v *Verifier) claims(payload []byte) (*Claims, error) {
	var raw struct {
		Iss       string          `json:"iss"`
		Sub       string          `json:"sub"`
		ClientID  string          `json:"client_id"`
		Scope     string          `json:"scope"`
		JTI       string          `json:"jti"`
		SID       string          `json:"sid"`
		Roles     []string        `json:"roles"`
		Groups    []string        `json:"groups"`
		AMR       []string        `json:"amr"`
		Aud       json.RawMessage `json:"aud"`
		IssuedAt  *float64        `json:"iat"`
		ExpiresAt *float64        `json:"exp"`
		NotBefore *float64        `json:"nbf"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, ErrMalformed
	}
	c := &Claims{Raw: json.RawMessage(payload), Subject: raw.Sub, ClientID: raw.ClientID, Scope: raw.Scope, ID: raw.JTI,
		SessionID: raw.SID, Roles: raw.Roles, Groups: raw.Groups, AMR: raw.AMR}
	if len(raw.Aud) > 0 && raw.Aud[0] == '"' {
		var a string
		if json.Unmarshal(raw.Aud, &a) != nil {
			return nil, ErrMalformed
		}
		c.Audience = []string{a}
	} else if len(raw.Aud) > 0 && json.Unmarshal(raw.Aud, &c.Audience) != nil {
		return nil, ErrMalformed
	}
	if raw.Iss != v.issuer {
		return nil, ErrIssuer
	}
	if !slices.Contains(c.Audience, v.audience) {
		return nil, ErrAudience
	}
	now := v.now()
	exp, ok := unixPtr(raw.ExpiresAt)
	if !ok || !now.Before(exp.Add(v.leeway)) {
		return nil, ErrExpired
	}
	c.Expiry = exp
	if nbf, ok := unixPtr(raw.NotBefore); ok && now.Add(v.leeway).Before(nbf) {
		return nil, ErrNotYetValid
	}
	if iat, ok := unixPtr(raw.IssuedAt); ok {
		if now.Add(v.leeway).Before(iat) {
			return nil, ErrNotYetValid
		}
		c.IssuedAt = iat
	}
	return c, nil
}

func unixPtr(f *float64) (time.Time, bool) {
	if f == nil {
		return time.Time{}, false
	}
	return unix(*f)
}

// unix converts a NumericDate (RFC 7519 §2); float64 holds every second
// until the year 36812 exactly.
func unix(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
