package signing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/signing"
)

// accessClaims is a typical token body: the registered claims plus more.
type accessClaims struct {
	signing.Claims
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

func sampleClaims() accessClaims {
	return accessClaims{
		Claims: signing.Claims{Issuer: "https://id.example.com", Subject: "user-1",
			Audience: signing.Audience{"api", "admin"}, Expiry: 1_900_000_000, IssuedAt: 1_800_000_000, ID: "jti-1"},
		ClientID: "gatehouse", Scope: "openid profile", Roles: []string{"admin"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := key(t, alg)
			if k.signer.KID() != k.kid || k.signer.Alg() != alg {
				t.Fatalf("signer kid/alg = %s/%s, want %s/%s", k.signer.KID(), k.signer.Alg(), k.kid, alg)
			}
			ks := keySet(t, allAlgs, k)
			for _, typ := range []string{signing.TypAccessToken, signing.TypIDToken} {
				want := sampleClaims()
				tok, err := k.signer.Sign(want, typ)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				wantHeader := map[string]any{"alg": alg, "kid": k.kid, "typ": typ}
				if diff := cmp.Diff(wantHeader, header(t, tok)); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				var got accessClaims
				if err := ks.Verify(tok, typ, &got); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
				// An independent parser (go-jose's jwt package) agrees.
				parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatalf("jwt.ParseSigned: %v", err)
				}
				var std jwt.Claims
				if err := parsed.Claims(joseKey(t, k.pub).Key, &std); err != nil {
					t.Fatalf("jwt Claims: %v", err)
				}
				if std.Subject != want.Subject || !slices.Equal([]string(std.Audience), want.Audience) {
					t.Errorf("jwt package read sub %q aud %v", std.Subject, std.Audience)
				}
			}
		})
	}
}

func TestVerifyTypForms(t *testing.T) {
	k := key(t, signing.ES256)
	ks := keySet(t, []string{signing.ES256}, k)
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"} {
		tok, err := k.signer.Sign(sampleClaims(), typ)
		if err != nil {
			t.Fatalf("Sign typ %q: %v", typ, err)
		}
		if err := ks.Verify(tok, signing.TypAccessToken, nil); err != nil {
			t.Errorf("typ %q: Verify = %v, want nil", typ, err)
		}
	}
	for _, typ := range []string{"jwt", "application/jwt", "at+jwt ", "xapplication/at+jwt", "application/"} {
		tok, err := k.signer.Sign(sampleClaims(), typ)
		if err != nil {
			t.Fatalf("Sign typ %q: %v", typ, err)
		}
		if err := ks.Verify(tok, signing.TypAccessToken, nil); !errors.Is(err, signing.ErrType) {
			t.Errorf("typ %q: Verify = %v, want ErrType", typ, err)
		}
	}
	tok, _ := k.signer.Sign(sampleClaims(), signing.TypAccessToken)
	if err := ks.Verify(tok, "", nil); !errors.Is(err, signing.ErrType) {
		t.Errorf("empty wantTyp: Verify = %v, want ErrType", err)
	}
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := key(t, alg)
			if raw, err := base64.RawURLEncoding.DecodeString(k.kid); err != nil || len(raw) != 16 {
				t.Errorf("kid %q is not base64url of 16 bytes (err %v)", k.kid, err)
			}
			priv, pub := joseKey(t, k.priv), joseKey(t, k.pub)
			for name, j := range map[string]*jose.JSONWebKey{"private": priv, "public": pub} {
				if j.KeyID != k.kid || j.Algorithm != alg || j.Use != "sig" {
					t.Errorf("%s JWK kid/alg/use = %s/%s/%s", name, j.KeyID, j.Algorithm, j.Use)
				}
			}
			if priv.IsPublic() || !pub.IsPublic() {
				t.Errorf("private JWK public=%v, public JWK public=%v", priv.IsPublic(), pub.IsPublic())
			}
			if rk, ok := pub.Key.(*rsa.PublicKey); ok && rk.N.BitLen() != signing.RSABits {
				t.Errorf("RSA modulus is %d bits, want %d", rk.N.BitLen(), signing.RSABits)
			}
			assertNoPrivateMembers(t, k.pub)
		})
	}
	if _, _, _, err := signing.GenerateKey("HS256"); !errors.Is(err, signing.ErrAlgorithm) {
		t.Errorf("GenerateKey(HS256) = %v, want ErrAlgorithm", err)
	}
}

func TestSignRefuses(t *testing.T) {
	s := key(t, signing.ES256).signer
	tests := []struct {
		name   string
		claims any
		typ    string
		want   error
	}{
		{"empty typ", sampleClaims(), "", nil},
		{"array", []string{"a"}, signing.TypAccessToken, nil},
		{"string", "claims", signing.TypAccessToken, nil},
		{"unencodable", map[string]any{"f": func() {}}, signing.TypAccessToken, nil},
		{"over 8 KiB", map[string]string{"big": strings.Repeat("x", signing.MaxTokenSize)}, signing.TypAccessToken, signing.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Sign(tt.claims, tt.typ)
			if err == nil {
				t.Fatalf("Sign = %q, want an error", tok)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Sign error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	var keys []testKey
	for _, alg := range allAlgs {
		keys = append(keys, key(t, alg))
	}
	ks := keySet(t, []string{signing.ES256}, keys...)
	if ks.Len() != len(keys) {
		t.Errorf("Len = %d, want %d", ks.Len(), len(keys))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not a JSON Web Key Set: %v\n%s", err, ks.JWKS())
	}
	if len(set.Keys) != len(keys) {
		t.Fatalf("JWKS has %d keys, want %d", len(set.Keys), len(keys))
	}
	for i, k := range keys {
		got := set.Keys[i]
		if got.KeyID != k.kid || got.Algorithm != allAlgs[i] || got.Use != "sig" || !got.IsPublic() {
			t.Errorf("JWKS key %d: kid %s alg %s use %s public %v", i, got.KeyID, got.Algorithm, got.Use, got.IsPublic())
		}
		if !ks.Has(k.kid) {
			t.Errorf("Has(%s) = false", k.kid)
		}
	}
	if ks.Has("nope") || ks.Has("") {
		t.Error("Has reports a key that is not there")
	}
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, raw := range doc.Keys {
		assertNoPrivateMembers(t, raw)
	}
	empty := keySet(t, []string{signing.ES256})
	if string(empty.JWKS()) != `{"keys":[]}` {
		t.Errorf("empty JWKS = %s", empty.JWKS())
	}
}

func assertNoPrivateMembers(t *testing.T, jwk []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatalf("JWK JSON: %v", err)
	}
	for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := m[member]; ok {
			t.Errorf("public JWK %s has private member %q", m["kid"], member)
		}
	}
}

func TestNewKeySetRefuses(t *testing.T) {
	es := key(t, signing.ES256)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(key any, kid, alg string) []byte {
		b, err := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	esPub := joseKey(t, es.pub).Key
	tests := []struct {
		name    string
		keys    [][]byte
		allowed []string
		algErr  bool
	}{
		{"no algorithms", [][]byte{es.pub}, nil, true},
		{"none allowed", [][]byte{es.pub}, []string{"none"}, true},
		{"HS256 allowed", [][]byte{es.pub}, []string{"ES256", "HS256"}, true},
		{"lower-case alg", [][]byte{es.pub}, []string{"es256"}, true},
		{"private key", [][]byte{es.priv}, []string{"ES256"}, false},
		{"duplicate kid", [][]byte{es.pub, es.pub}, []string{"ES256"}, false},
		{"no kid", [][]byte{jwk(esPub, "", "ES256")}, []string{"ES256"}, false},
		{"no alg", [][]byte{jwk(esPub, "k1", "")}, []string{"ES256"}, true},
		{"HMAC key", [][]byte{jwk([]byte(strings.Repeat("s", 32)), "k1", "HS256")}, []string{"ES256"}, true},
		{"P-384 as ES256", [][]byte{jwk(p384.Public(), "k1", "ES256")}, []string{"ES256"}, false},
		{"EC key as EdDSA", [][]byte{jwk(esPub, "k1", "EdDSA")}, []string{"EdDSA"}, false},
		{"RSA 2048", [][]byte{jwk(small.Public(), "k1", "PS256")}, []string{"PS256"}, false},
		{"use enc", [][]byte{[]byte(strings.Replace(string(es.pub), `"use":"sig"`, `"use":"enc"`, 1))}, []string{"ES256"}, false},
		{"garbage", [][]byte{[]byte("{")}, []string{"ES256"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := signing.NewKeySet(tt.keys, tt.allowed)
			if err == nil {
				t.Fatalf("NewKeySet = %v, want an error", ks)
			}
			if tt.algErr != errors.Is(err, signing.ErrAlgorithm) {
				t.Errorf("NewKeySet error %v: ErrAlgorithm = %v, want %v", err, !tt.algErr, tt.algErr)
			}
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	es := key(t, signing.ES256)
	hmac, _ := jose.JSONWebKey{Key: []byte(strings.Repeat("s", 32)), KeyID: "k1", Algorithm: "HS256"}.MarshalJSON()
	for name, data := range map[string][]byte{
		"public key": es.pub,
		"HMAC key":   hmac,
		"garbage":    []byte("not json"),
		"empty":      nil,
	} {
		if s, err := signing.NewSigner(data); err == nil {
			t.Errorf("%s: NewSigner = %v, want an error", name, s)
		}
	}
}
