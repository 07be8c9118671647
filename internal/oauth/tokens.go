package oauth

import (
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
)

// AccessClaims are the claims of an access token (RFC 9068 plus Gatehouse's
// roles, groups and authentication context). sub is the user id, or the
// client id for client_credentials; no other personal data goes in.
type AccessClaims struct {
	signing.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"` // always present, "" when nothing was granted
	// Roles and Groups are present, [] when empty, unless
	// GATEHOUSE_TOKEN_ROLE_CLAIMS=false leaves them nil (SPEC §5).
	Roles    []string `json:"roles,omitzero"`
	Groups   []string `json:"groups,omitzero"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	SID      string   `json:"sid,omitempty"`
}

// Scopes returns the scope claim as a list.
func (c *AccessClaims) Scopes() []string { return strings.Fields(c.Scope) }

// IDClaims are the claims of an OpenID Connect ID token.
type IDClaims struct {
	signing.Claims
	AuthTime          int64    `json:"auth_time,omitempty"`
	AMR               []string `json:"amr,omitempty"`
	ACR               string   `json:"acr,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	SID               string   `json:"sid,omitempty"`
	AZP               string   `json:"azp,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Name              string   `json:"name,omitempty"`
	Email             string   `json:"email,omitempty"`
}

// Token types of the JOSE typ header.
const (
	TypAccessToken = "at+jwt"
	TypIDToken     = "JWT"
)

// ErrTokenRevoked is returned for a token on the deny list.
var ErrTokenRevoked = errors.New("oauth: token revoked")

// verifiedCache remembers access tokens whose signature and claims were
// already checked, keyed by the SHA-256 of the token, so a hot token is not
// verified again. Expiry and revocation are still checked on every use.
// It is bounded: when full, it is cleared (cheap, and the next uses refill it).
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[[32]byte]*AccessClaims
	max int
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[[32]byte]*AccessClaims), max: max}
}

func (c *verifiedCache) get(k [32]byte) (*AccessClaims, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(k [32]byte, v *AccessClaims) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = v
	c.mu.Unlock()
}

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

// VerifyAccessToken checks an access token: size, algorithm allow-list, kid,
// typ at+jwt, signature, iss, audience (one of audiences), expiry, and the
// deny list. A token verified before skips the signature check. The error
// never says more than "invalid token" to a client; it is for logs.
func (s *Service) VerifyAccessToken(raw string, audiences []string) (*AccessClaims, error) {
	if len(raw) > signing.MaxTokenSize {
		return nil, signing.ErrTooLarge
	}
	key := sha256.Sum256([]byte(raw))
	c, ok := s.verified.get(key)
	if !ok {
		var claims AccessClaims
		if err := s.keys.KeySet().Verify(raw, TypAccessToken, &claims); err != nil {
			return nil, err
		}
		if err := claims.Validate(s.opts.Issuer, "", s.now(), Leeway); err != nil {
			return nil, err
		}
		c = &claims
		s.verified.put(key, c)
	}
	now := s.now()
	if now.Unix() >= c.Expiry+int64(Leeway/time.Second) {
		return nil, signing.ErrExpired
	}
	if len(audiences) > 0 && !audienceMatch(c.Audience, audiences) {
		return nil, signing.ErrAudience
	}
	if s.revocations.Revoked(c.ID, c.SID, c.Subject, time.Unix(c.IssuedAt, 0)) {
		return nil, ErrTokenRevoked
	}
	return c, nil
}

func audienceMatch(have signing.Audience, want []string) bool {
	for _, a := range have {
		for _, w := range want {
			if secret.Equal(a, w) {
				return true
			}
		}
	}
	return false
}
