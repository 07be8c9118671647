package signing

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Token types of the JOSE "typ" header that Gatehouse issues.
const (
	TypAccessToken = "at+jwt" // RFC 9068 §2.1
	TypIDToken     = "JWT"    // OpenID Connect ID tokens
)

// Signer signs JWTs with one private key. It is safe for concurrent use.
type Signer struct {
	kid string
	alg jose.SignatureAlgorithm
	key any // the private key: *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey
	// byTyp holds a ready jose.Signer per common typ, so Sign builds nothing.
	byTyp map[string]jose.Signer
}

// NewSigner returns a Signer for the private JWK privateJWK (as made by
// GenerateKey). The JWK must carry a kid, a supported alg and a key of the
// type and size that alg needs; otherwise it returns an error (wrapping
// ErrAlgorithm for an unsupported alg).
func NewSigner(privateJWK []byte) (*Signer, error) {
	k, err := parseJWK(privateJWK, true)
	if err != nil {
		return nil, err
	}
	if rk, ok := k.Key.(*rsa.PrivateKey); ok {
		rk.Precompute() // the CRT form; otherwise every signature rebuilds it
	}
	s := &Signer{kid: k.KeyID, alg: jose.SignatureAlgorithm(k.Algorithm), key: k.Key,
		byTyp: make(map[string]jose.Signer, 2)}
	for _, typ := range []string{TypAccessToken, TypIDToken} {
		js, err := s.newJoseSigner(typ)
		if err != nil {
			return nil, err
		}
		s.byTyp[typ] = js
	}
	return s, nil
}

func (s *Signer) newJoseSigner(typ string) (jose.Signer, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", s.kid)
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: signer for key %s: %w", s.kid, err)
	}
	return js, nil
}

// KID returns the key id that Sign puts in the "kid" header.
func (s *Signer) KID() string { return s.kid }

// Alg returns the key's algorithm, one of ES256, EdDSA, PS256 or RS256.
func (s *Signer) Alg() string { return string(s.alg) }

// Sign serializes claims (any value encoding/json turns into a JSON object,
// typically a struct or a map) as a compact JWS whose protected header is
// exactly {"alg","kid","typ"}. typ is TypAccessToken for access tokens
// (RFC 9068) and TypIDToken for ID tokens; it must not be empty. It returns
// an error when claims do not encode to a JSON object and ErrTooLarge when
// the token would exceed MaxTokenSize (Verify would refuse it).
func (s *Signer) Sign(claims any, typ string) (string, error) {
	if typ == "" {
		return "", errors.New("signing: empty typ")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("signing: encode claims: %w", err)
	}
	if len(payload) == 0 || payload[0] != '{' {
		return "", fmt.Errorf("signing: claims must encode to a JSON object, not %T", claims)
	}
	js, ok := s.byTyp[typ]
	if !ok {
		if js, err = s.newJoseSigner(typ); err != nil {
			return "", err
		}
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: sign with key %s: %w", s.kid, err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("signing: serialize: %w", err)
	}
	if len(token) > MaxTokenSize {
		return "", fmt.Errorf("%w: %d bytes signed, limit %d", ErrTooLarge, len(token), MaxTokenSize)
	}
	return token, nil
}
