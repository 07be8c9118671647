// Package signing signs and verifies the JWTs Gatehouse issues (RFC 7519,
// RFC 7515, RFC 9068) and publishes their public keys as a JWKS (RFC 7517).
//
// It is pure: no storage, no HTTP. Keys travel in and out as JWK JSON; the
// oauth package stores them (private keys encrypted) and decides which key
// signs. All cryptography is go-jose's (github.com/go-jose/go-jose/v4).
//
// Algorithms follow SPEC §15: ES256 (the default), EdDSA (Ed25519), PS256
// with RSA of at least 3072 bits, and RS256 only for legacy clients when the
// caller puts it in a key set's allow-list. none and HMAC are never accepted.
package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Supported algorithm names, as they appear in the JOSE "alg" header and in
// a JWK's "alg" member.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256; the default
	EdDSA = "EdDSA" // Ed25519
	PS256 = "PS256" // RSASSA-PSS with SHA-256, RSA 3072 bits
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA 3072 bits; legacy only
)

// MaxTokenSize is the largest token, in bytes, that Verify looks at
// (SPEC §13). Sign refuses to produce a larger one.
const MaxTokenSize = 8 << 10

// RSABits is the modulus size of generated RSA keys and the smallest one
// accepted (SPEC §15: RSA ≥ 3072 bits).
const RSABits = 3072

// kidBytes is the number of random bytes in a generated key id.
const kidBytes = 16

// SupportedAlg reports whether alg is one of ES256, EdDSA, PS256 or RS256.
// It is case-sensitive, as JOSE algorithm names are.
func SupportedAlg(alg string) bool {
	switch alg {
	case ES256, EdDSA, PS256, RS256:
		return true
	}
	return false
}

// GenerateKey makes a new key pair for alg with a random kid (base64url of
// 16 bytes from crypto/rand). privateJWK is the JSON of the private JWK and
// publicJWK the JSON of its public half, both with kid, alg and use "sig".
// An unsupported alg gives an error wrapping ErrAlgorithm. RSA generation
// takes a noticeable fraction of a second.
func GenerateKey(alg string) (kid string, privateJWK, publicJWK []byte, err error) {
	var priv crypto.Signer
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		var k ed25519.PrivateKey
		_, k, err = ed25519.GenerateKey(rand.Reader)
		priv = k
	case PS256, RS256:
		priv, err = rsa.GenerateKey(rand.Reader, RSABits)
	default:
		return "", nil, nil, fmt.Errorf("%w: cannot generate a key for %q", ErrAlgorithm, alg)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("signing: generate %s key: %w", alg, err)
	}
	b := make([]byte, kidBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, nil, fmt.Errorf("signing: generate kid: %w", err)
	}
	kid = base64.RawURLEncoding.EncodeToString(b)

	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"}
	if privateJWK, err = jwk.MarshalJSON(); err != nil {
		return "", nil, nil, fmt.Errorf("signing: encode private key: %w", err)
	}
	jwk.Key = priv.Public()
	if publicJWK, err = jwk.MarshalJSON(); err != nil {
		return "", nil, nil, fmt.Errorf("signing: encode public key: %w", err)
	}
	return kid, privateJWK, publicJWK, nil
}

// parseJWK reads one JWK and checks that it is fit for Gatehouse: a kid, a
// supported alg, use "sig" (or none), a valid key of the type and size the
// alg needs, and private exactly when wantPrivate is set.
func parseJWK(data []byte, wantPrivate bool) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("signing: parse JWK: %w", err)
	}
	if k.KeyID == "" {
		return nil, errors.New("signing: JWK has no kid")
	}
	if !SupportedAlg(k.Algorithm) {
		return nil, fmt.Errorf("%w: JWK %s has alg %q", ErrAlgorithm, k.KeyID, k.Algorithm)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("signing: JWK %s has use %q, want sig", k.KeyID, k.Use)
	}
	if !k.Valid() {
		return nil, fmt.Errorf("signing: JWK %s is not a valid key", k.KeyID)
	}
	if public := k.IsPublic(); public == wantPrivate {
		if wantPrivate {
			return nil, fmt.Errorf("signing: JWK %s is not a private key", k.KeyID)
		}
		return nil, fmt.Errorf("signing: JWK %s is not a public key", k.KeyID)
	}
	if err := checkKeyType(k.Algorithm, k.Key); err != nil {
		return nil, fmt.Errorf("signing: JWK %s: %w", k.KeyID, err)
	}
	return &k, nil
}

// checkKeyType checks that key (public or private) is what alg needs, so a
// key's declared alg can be trusted when matching it to a token's header.
func checkKeyType(alg string, key any) error {
	switch alg {
	case ES256:
		var pub *ecdsa.PublicKey
		switch k := key.(type) {
		case *ecdsa.PublicKey:
			pub = k
		case *ecdsa.PrivateKey:
			pub = &k.PublicKey
		default:
			return fmt.Errorf("alg %s needs an EC key, have %T", alg, key)
		}
		if pub.Curve != elliptic.P256() {
			return fmt.Errorf("alg %s needs curve P-256", alg)
		}
	case EdDSA:
		switch key.(type) {
		case ed25519.PublicKey, ed25519.PrivateKey:
		default:
			return fmt.Errorf("alg %s needs an Ed25519 key, have %T", alg, key)
		}
	case PS256, RS256:
		var pub *rsa.PublicKey
		switch k := key.(type) {
		case *rsa.PublicKey:
			pub = k
		case *rsa.PrivateKey:
			pub = &k.PublicKey
		default:
			return fmt.Errorf("alg %s needs an RSA key, have %T", alg, key)
		}
		if n := pub.N.BitLen(); n < RSABits {
			return fmt.Errorf("RSA key of %d bits is too small; need at least %d", n, RSABits)
		}
	default:
		return fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	return nil
}
