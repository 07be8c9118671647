package signing

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors of Verify, one per reason a token is refused, usable with errors.Is.
// Their text is for logs; clients only ever hear "invalid token".
var (
	// ErrTooLarge: the token is longer than MaxTokenSize.
	ErrTooLarge = errors.New("signing: token too large")
	// ErrMalformed: not a compact JWS of three base64url parts with a JSON
	// header and a JSON object as payload, or not exactly one signature.
	ErrMalformed = errors.New("signing: malformed token")
	// ErrAlgorithm: the header alg is not in the allow-list (always the case
	// for none and HMAC), or differs from the alg of the key named by kid.
	ErrAlgorithm = errors.New("signing: algorithm not allowed")
	// ErrUnknownKey: the header has no kid, or one not in the key set.
	ErrUnknownKey = errors.New("signing: unknown key")
	// ErrType: the header typ is missing or not the expected one.
	ErrType = errors.New("signing: wrong token type")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("signing: invalid signature")
)

// KeySet holds public keys for verification, each with its own alg, and
// the JWKS document that publishes them. It is immutable and safe for
// concurrent use; to change keys, build a new one. A nil *KeySet holds no
// keys: it publishes an empty JWKS and refuses every token.
type KeySet struct {
	keys    map[string]*jose.JSONWebKey // by kid
	allowed []jose.SignatureAlgorithm
	jwks    []byte
}

// NewKeySet returns a key set of the public JWKs publicJWKs (as made by
// GenerateKey) that accepts tokens signed with the algorithms in allowed.
// allowed must be non-empty and hold only supported algorithms (never none
// or HS*; RS256 only if the caller puts it in), else the error wraps
// ErrAlgorithm. Every key needs a distinct kid, a supported alg and a valid
// public key of the right type and size; private keys are refused, so the
// JWKS can never leak one. Keys whose alg is not allowed are still
// published but verify nothing.
func NewKeySet(publicJWKs [][]byte, allowed []string) (*KeySet, error) {
	if len(allowed) == 0 {
		return nil, fmt.Errorf("%w: empty allow-list", ErrAlgorithm)
	}
	ks := &KeySet{keys: make(map[string]*jose.JSONWebKey, len(publicJWKs))}
	for _, a := range allowed {
		if !SupportedAlg(a) {
			return nil, fmt.Errorf("%w: %q cannot be allowed", ErrAlgorithm, a)
		}
		ks.allowed = append(ks.allowed, jose.SignatureAlgorithm(a))
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(publicJWKs))}
	for _, data := range publicJWKs {
		k, err := parseJWK(data, false)
		if err != nil {
			return nil, err
		}
		if _, dup := ks.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("signing: duplicate kid %s", k.KeyID)
		}
		ks.keys[k.KeyID] = k
		set.Keys = append(set.Keys, *k)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("signing: encode JWKS: %w", err)
	}
	ks.jwks = jwks
	return ks, nil
}

// JWKS returns the JSON of the key set, {"keys":[…]} (RFC 7517 §5), in the
// order the keys were given. The bytes are prepared once and shared: serve
// them as they are and do not modify them.
func (ks *KeySet) JWKS() []byte {
	if ks == nil {
		return []byte(`{"keys":[]}`)
	}
	return ks.jwks
}

// Algorithms returns the algorithms the set verifies, in its allow-list's
// order (what the discovery document advertises).
func (ks *KeySet) Algorithms() []string {
	if ks == nil {
		return nil
	}
	out := make([]string, len(ks.allowed))
	for i, a := range ks.allowed {
		out[i] = string(a)
	}
	return out
}

// Has reports whether the set holds a key with this kid.
func (ks *KeySet) Has(kid string) bool {
	if ks == nil {
		return false
	}
	_, ok := ks.keys[kid]
	return ok
}

// Len returns the number of keys in the set.
func (ks *KeySet) Len() int {
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// Verify parses and verifies a compact JWS and unmarshals its payload, a
// JSON object, into out (a pointer, as for json.Unmarshal; nil skips it).
// It checks, cheapest first and in this order: length ≤ MaxTokenSize
// (ErrTooLarge); three canonical base64url parts (ErrMalformed); exactly
// one signature (ErrMalformed); header alg in the allow-list (ErrAlgorithm,
// which is how none and HS* end); header kid present and known
// (ErrUnknownKey); header typ equal to wantTyp ignoring case, or to
// "application/"+wantTyp per RFC 9068 §4 (ErrType; an empty wantTyp
// matches nothing); the key's own alg equal to the header alg
// (ErrAlgorithm); the signature (ErrSignature). Every refusal wraps exactly
// one of these sentinels.
//
// It does not look at iss, aud, exp or nbf: the caller does, with
// Claims.Validate.
func (ks *KeySet) Verify(token, wantTyp string, out any) error {
	if len(token) > MaxTokenSize {
		return ErrTooLarge
	}
	if ks == nil {
		return ErrUnknownKey
	}
	if !compactShape(token) {
		return ErrMalformed
	}
	obj, err := jose.ParseSignedCompact(token, ks.allowed)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return ErrAlgorithm
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return ErrMalformed
	}
	// Compact serialization has only a protected header, so every value
	// below is covered by the signature once it verifies.
	h := obj.Signatures[0].Protected
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return fmt.Errorf("%w: crit header", ErrMalformed) // we never issue one; refuse RFC 7797 b64 games
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return fmt.Errorf("%w: b64 header", ErrMalformed)
	}
	if !ks.allows(jose.SignatureAlgorithm(h.Algorithm)) {
		return ErrAlgorithm // already refused by ParseSignedCompact; kept should the parser change
	}
	if h.KeyID == "" {
		return fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	key, ok := ks.keys[h.KeyID]
	if !ok {
		return ErrUnknownKey
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !typMatches(typ, wantTyp) {
		return ErrType
	}
	if key.Algorithm != h.Algorithm {
		return fmt.Errorf("%w: header alg differs from the key's", ErrAlgorithm)
	}
	payload, err := obj.Verify(key.Key)
	if err != nil {
		return ErrSignature
	}
	if len(payload) == 0 || payload[0] != '{' {
		return fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(payload, out); err != nil {
		return fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	return nil
}

func (ks *KeySet) allows(alg jose.SignatureAlgorithm) bool {
	for _, a := range ks.allowed {
		if a == alg {
			return true
		}
	}
	return false
}

// typMatches implements the typ comparison of RFC 7515 §4.1.9 and RFC 9068
// §4: media types are case-insensitive and "application/" may be left out.
func typMatches(got, want string) bool {
	if want == "" || got == "" {
		return false
	}
	if strings.EqualFold(got, want) {
		return true
	}
	const prefix = "application/"
	return len(got) == len(prefix)+len(want) &&
		strings.EqualFold(got[:len(prefix)], prefix) && strings.EqualFold(got[len(prefix):], want)
}

// compactShape reports whether token is three base64url parts joined by
// dots, with non-empty header and payload, using only the base64url
// alphabet and canonical encodings (no stray bits in a last character).
// Go's base64 decoder skips CR and LF and ignores stray bits, so without
// this several strings would decode to, and verify as, the same token.
// The signature part may be empty so that alg none is reported as such.
func compactShape(token string) bool {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	return header != "" && payload != "" && canonicalB64(header) && canonicalB64(payload) && canonicalB64(sig)
}

// canonicalB64 reports whether part is unpadded base64url (RFC 4648 §5)
// whose last character carries no unused bits.
func canonicalB64(part string) bool {
	var last byte
	for i := 0; i < len(part); i++ {
		v, ok := b64urlValue(part[i])
		if !ok {
			return false
		}
		last = v
	}
	switch len(part) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

func b64urlValue(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '-':
		return 62, true
	case c == '_':
		return 63, true
	}
	return 0, false
}
