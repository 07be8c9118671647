package sdk_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/sdk"
)

// benchToken starts Gatehouse and returns its issuer, an admin access token
// and the public key that signed it.
func benchToken(b *testing.B) (issuer, token string, key jose.JSONWebKey) {
	b.Helper()
	g := startGatehouse(b)
	token = g.Login("admin", adminPassword)
	resp, err := http.Get(g.URL + "/.well-known/jwks.json")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		b.Fatal(err)
	}
	keys := set.Key(header(b, token)["kid"].(string))
	if len(keys) != 1 {
		b.Fatalf("kid not in the JWKS")
	}
	return g.URL, token, keys[0]
}

// BenchmarkVerifyAccessToken measures a full local verification: parse, typ,
// alg, kid, signature, claims decoding and iss/aud/exp/nbf/iat checks.
func BenchmarkVerifyAccessToken(b *testing.B) {
	issuer, token, _ := benchToken(b)
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: issuer})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyAccessToken(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawJOSEVerify is the floor: go-jose ParseSignedCompact and Verify
// of the same token with the same key, no claim checks.
func BenchmarkRawJOSEVerify(b *testing.B) {
	_, token, key := benchToken(b)
	algs := []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256}
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSignedCompact(token, algs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.Verify(key.Key); err != nil {
			b.Fatal(err)
		}
	}
}
