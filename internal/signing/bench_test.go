package signing_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/signing"
)

// The raw benchmarks time the bare crypto/ecdsa and crypto/ed25519 calls
// on the same signing input as the token benchmarks: the difference is
// what JOSE framing (JSON, base64, header checks) costs.

func benchSign(b *testing.B, alg string) {
	k := key(b, alg)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.signer.Sign(c, signing.TypAccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, alg string) {
	k := key(b, alg)
	ks := keySet(b, []string{alg}, k)
	tok, err := k.signer.Sign(sampleClaims(), signing.TypAccessToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var c accessClaims
		if err := ks.Verify(tok, signing.TypAccessToken, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B)   { benchSign(b, signing.ES256) }
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, signing.ES256) }
func BenchmarkSignEdDSA(b *testing.B)   { benchSign(b, signing.EdDSA) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, signing.EdDSA) }

// signingInput returns header.payload of a token of k.
func signingInput(b *testing.B, k testKey) []byte {
	tok, err := k.signer.Sign(sampleClaims(), signing.TypAccessToken)
	if err != nil {
		b.Fatal(err)
	}
	return []byte(tok[:strings.LastIndexByte(tok, '.')])
}

func BenchmarkRawECDSASign(b *testing.B) {
	k := key(b, signing.ES256)
	priv := joseKey(b, k.priv).Key.(*ecdsa.PrivateKey)
	msg := signingInput(b, k)
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if _, err := ecdsa.SignASN1(rand.Reader, priv, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawECDSAVerify(b *testing.B) {
	k := key(b, signing.ES256)
	priv := joseKey(b, k.priv).Key.(*ecdsa.PrivateKey)
	msg := signingInput(b, k)
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&priv.PublicKey, h[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkRawEd25519Verify(b *testing.B) {
	k := key(b, signing.EdDSA)
	priv := joseKey(b, k.priv).Key.(ed25519.PrivateKey)
	pub := priv.Public().(ed25519.PublicKey)
	msg := signingInput(b, k)
	sig := ed25519.Sign(priv, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyRefuseNone is the cost of turning away an alg none token,
// which must stay far below a signature check.
func BenchmarkVerifyRefuseNone(b *testing.B) {
	k := key(b, signing.ES256)
	ks := keySet(b, []string{signing.ES256}, k)
	tok := noneToken(k.kid, `{"sub":"x"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ks.Verify(tok, signing.TypAccessToken, nil); err == nil {
			b.Fatal("accepted alg none")
		}
	}
}
