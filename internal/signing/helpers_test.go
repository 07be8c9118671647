package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/signing"
)

var allAlgs = []string{signing.ES256, signing.EdDSA, signing.PS256, signing.RS256}

// sentinels are every error Verify may return, by name.
var sentinels = map[string]error{
	"ErrTooLarge":   signing.ErrTooLarge,
	"ErrMalformed":  signing.ErrMalformed,
	"ErrAlgorithm":  signing.ErrAlgorithm,
	"ErrUnknownKey": signing.ErrUnknownKey,
	"ErrType":       signing.ErrType,
	"ErrSignature":  signing.ErrSignature,
}

// matchedSentinels names the sentinels err wraps.
func matchedSentinels(err error) []string {
	var names []string
	for name, s := range sentinels {
		if errors.Is(err, s) {
			names = append(names, name)
		}
	}
	return names
}

// testKey is a generated key pair with its signer.
type testKey struct {
	kid       string
	priv, pub []byte
	signer    *signing.Signer
}

// keyOnce generates one key per algorithm per test binary: RSA 3072 keys
// take a while to make.
var keyOnce = func() map[string]func() (testKey, error) {
	m := make(map[string]func() (testKey, error))
	for _, alg := range allAlgs {
		m[alg] = sync.OnceValues(func() (testKey, error) { return newTestKey(alg) })
	}
	return m
}()

func newTestKey(alg string) (testKey, error) {
	kid, priv, pub, err := signing.GenerateKey(alg)
	if err != nil {
		return testKey{}, err
	}
	s, err := signing.NewSigner(priv)
	if err != nil {
		return testKey{}, err
	}
	return testKey{kid: kid, priv: priv, pub: pub, signer: s}, nil
}

// key returns the shared test key of alg.
func key(t testing.TB, alg string) testKey {
	t.Helper()
	k, err := keyOnce[alg]()
	if err != nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return k
}

// freshKey returns a new key of alg that no key set knows.
func freshKey(t testing.TB, alg string) testKey {
	t.Helper()
	k, err := newTestKey(alg)
	if err != nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return k
}

// keySet builds a KeySet of the public halves of keys.
func keySet(t testing.TB, allowed []string, keys ...testKey) *signing.KeySet {
	t.Helper()
	pubs := make([][]byte, len(keys))
	for i, k := range keys {
		pubs[i] = k.pub
	}
	ks, err := signing.NewKeySet(pubs, allowed)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return ks
}

// joseKey parses a JWK with go-jose.
func joseKey(t testing.TB, data []byte) *jose.JSONWebKey {
	t.Helper()
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(data); err != nil {
		t.Fatalf("parse JWK: %v", err)
	}
	return &k
}

// signRaw signs payload with go-jose directly, with exactly the protected
// headers given (besides alg), to build tokens Signer would never make.
func signRaw(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[string]any, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("jose.NewSigner: %v", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return tok
}

// b64 is base64url without padding, as JOSE uses.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// noneToken crafts an unsigned token by hand: header {"alg":"none",…},
// the payload and an empty signature.
func noneToken(kid, payload string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid})
	return b64(string(h)) + "." + b64(payload) + "."
}

// header decodes the protected header of a compact token.
func header(t testing.TB, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatalf("decode header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header JSON: %v", err)
	}
	return h
}
