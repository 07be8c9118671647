package signing_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/signing"
)

// TestVerifyRefuses builds one bad token per rule of Verify and checks that
// it is refused with exactly the sentinel of that rule.
func TestVerifyRefuses(t *testing.T) {
	es, ed, ps := key(t, signing.ES256), key(t, signing.EdDSA), key(t, signing.PS256)
	rs := key(t, signing.RS256)
	// PS256 is allowed so that the key-alg check, not the allow-list, has
	// to catch a PS256 header naming an ES256 key. RS256 is not allowed.
	ks := keySet(t, []string{signing.ES256, signing.EdDSA, signing.PS256}, es, ed, ps, rs)

	claims := sampleClaims()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	valid, err := es.signer.Sign(claims, signing.TypAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	esPriv, psPriv := joseKey(t, es.priv).Key, joseKey(t, ps.priv).Key
	at := map[string]any{"kid": es.kid, "typ": signing.TypAccessToken}
	sign := func(alg jose.SignatureAlgorithm, key any, headers map[string]any, payload []byte) string {
		return signRaw(t, alg, key, headers, payload)
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for mk, mv := range m {
			if mk != k {
				out[mk] = mv
			}
		}
		return out
	}
	two, err := jose.NewMultiSigner([]jose.SigningKey{
		{Algorithm: jose.ES256, Key: esPriv}, {Algorithm: jose.EdDSA, Key: joseKey(t, ed.priv).Key},
	}, (&jose.SignerOptions{}).WithType(signing.TypAccessToken))
	if err != nil {
		t.Fatal(err)
	}
	twoObj, err := two.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tamperedSig := []byte(parts[2])
	if tamperedSig[5] == 'A' {
		tamperedSig[5] = 'B'
	} else {
		tamperedSig[5] = 'A'
	}
	other, _ := json.Marshal(func() accessClaims { c := sampleClaims(); c.Subject = "admin"; return c }())
	rsToken, err := rs.signer.Sign(claims, signing.TypAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	notObject := sign(jose.ES256, esPriv, at, []byte(`["not","an","object"]`))

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", noneToken(es.kid, string(payload)), signing.ErrAlgorithm},
		{"alg none with a signature", noneToken(es.kid, string(payload)) + parts[2], signing.ErrAlgorithm},
		{"HS256 keyed with the public JWK", sign(jose.HS256, es.pub, at, payload), signing.ErrAlgorithm},
		{"HS256 keyed with the public JWK of an RSA key", sign(jose.HS256, ps.pub, with(at, "kid", ps.kid), payload), signing.ErrAlgorithm},
		{"RS256 not allowed", rsToken, signing.ErrAlgorithm},
		{"header PS256, kid of an ES256 key", sign(jose.PS256, psPriv, at, payload), signing.ErrAlgorithm},
		{"header ES256, kid of an EdDSA key", sign(jose.ES256, esPriv, with(at, "kid", ed.kid), payload), signing.ErrAlgorithm},
		{"unknown kid", mustSign(t, freshKey(t, signing.ES256).signer, claims), signing.ErrUnknownKey},
		{"missing kid", sign(jose.ES256, esPriv, map[string]any{"typ": "at+jwt"}, payload), signing.ErrUnknownKey},
		{"empty kid", sign(jose.ES256, esPriv, with(at, "kid", ""), payload), signing.ErrUnknownKey},
		{"kid not a string", sign(jose.ES256, esPriv, with(at, "kid", 7), payload), signing.ErrMalformed},
		{"wrong typ", mustSignTyp(t, es.signer, claims, signing.TypIDToken), signing.ErrType},
		{"typ missing", sign(jose.ES256, esPriv, map[string]any{"kid": es.kid}, payload), signing.ErrType},
		{"typ not a string", sign(jose.ES256, esPriv, with(at, "typ", []string{"at+jwt"}), payload), signing.ErrType},
		{"over 8 KiB", strings.Repeat("A", signing.MaxTokenSize+1), signing.ErrTooLarge},
		{"over 8 KiB and otherwise fine", sized(t, es, signing.MaxTokenSize+1), signing.ErrTooLarge},
		{"8 KiB of garbage", strings.Repeat("A", signing.MaxTokenSize), signing.ErrMalformed},
		{"two signatures (JSON serialization)", twoObj.FullSerialize(), signing.ErrMalformed},
		{"flattened JSON serialization", `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`, signing.ErrMalformed},
		{"tampered payload", parts[0] + "." + b64(string(other)) + "." + parts[2], signing.ErrSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(tamperedSig), signing.ErrSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(mustSign(t, es.signer, claims), ".")[2][:10] + parts[2][10:], signing.ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:40], signing.ErrSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", signing.ErrSignature},
		{"payload not an object", notObject, signing.ErrMalformed},
		{"crit header", sign(jose.ES256, esPriv, with(at, "crit", []string{"exp"}), payload), signing.ErrMalformed},
		{"garbage", "garbage", signing.ErrMalformed},
		{"empty", "", signing.ErrMalformed},
		{"dots only", "..", signing.ErrMalformed},
		{"four parts", valid + ".AAAA", signing.ErrMalformed},
		{"header not JSON", b64("not json") + "." + parts[1] + "." + parts[2], signing.ErrMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], signing.ErrMalformed},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], signing.ErrMalformed},
		{"CRLF inside", parts[0][:10] + "\r\n" + parts[0][10:] + "." + parts[1] + "." + parts[2], signing.ErrMalformed},
		{"NUL appended", valid + "\x00", signing.ErrMalformed},
		{"leading space", " " + valid, signing.ErrMalformed},
		{"stray bits in the last character", parts[0] + "." + parts[1] + "." + flipLowBit(parts[2]), signing.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got accessClaims
			err := ks.Verify(tt.token, signing.TypAccessToken, &got)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if names := matchedSentinels(err); len(names) != 1 {
				t.Errorf("Verify error %v matches sentinels %v, want exactly one", err, names)
			}
			if got.Subject != "" {
				t.Errorf("claims were filled in (%q) for a refused token", got.Subject)
			}
		})
	}
	// The valid token itself passes, so the refusals above are the rules'
	// doing and not a broken key set.
	if err := ks.Verify(valid, signing.TypAccessToken, nil); err != nil {
		t.Fatalf("valid token: %v", err)
	}
}

// flipLowBit changes the unused low bits of the last character of a
// base64url part, which a lenient decoder ignores.
func flipLowBit(part string) string {
	switch len(part) % 4 {
	case 2, 3:
		last := part[len(part)-1]
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		return part[:len(part)-1] + string(alphabet[strings.IndexByte(alphabet, last)|1])
	}
	return part + "A" // no unused bits: make the length invalid instead
}

func mustSign(t *testing.T, s *signing.Signer, claims any) string {
	t.Helper()
	return mustSignTyp(t, s, claims, signing.TypAccessToken)
}

func mustSignTyp(t *testing.T, s *signing.Signer, claims any, typ string) string {
	t.Helper()
	tok, err := s.Sign(claims, typ)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

func TestVerifyBadOut(t *testing.T) {
	k := key(t, signing.ES256)
	ks := keySet(t, []string{signing.ES256}, k)
	tok := mustSign(t, k.signer, sampleClaims())
	var wrongShape struct {
		Issuer int `json:"iss"`
	}
	if err := ks.Verify(tok, signing.TypAccessToken, &wrongShape); !errors.Is(err, signing.ErrMalformed) {
		t.Errorf("claims of the wrong shape: Verify = %v, want ErrMalformed", err)
	}
	var m map[string]any
	if err := ks.Verify(tok, signing.TypAccessToken, &m); err != nil || m["sub"] != "user-1" {
		t.Errorf("into a map: Verify = %v, sub %v", err, m["sub"])
	}
}

// sized returns a token of exactly n bytes signed by k, built with go-jose
// directly since Sign refuses to exceed MaxTokenSize.
func sized(t *testing.T, k testKey, n int) string {
	t.Helper()
	priv := joseKey(t, k.priv).Key
	headers := map[string]any{"kid": k.kid, "typ": signing.TypAccessToken}
	c := sampleClaims()
	build := func(pad int, jti string) string {
		c.ID = jti
		body := map[string]any{"claims": c, "pad": strings.Repeat("p", pad)}
		return signRaw(t, jose.SignatureAlgorithm(k.signer.Alg()), priv, headers, mustJSON(t, body))
	}
	start := max(0, (n-len(build(0, "j")))*3/4-4)
	for pad := start; pad < start+8; pad++ {
		for _, jti := range []string{"j", "jt"} {
			if tok := build(pad, jti); len(tok) == n {
				return tok
			}
		}
	}
	t.Fatalf("cannot make a token of exactly %d bytes", n)
	return ""
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifySizeBoundary: a token of exactly MaxTokenSize bytes is judged
// on its merits; one byte more is refused before any parsing.
func TestVerifySizeBoundary(t *testing.T) {
	for _, alg := range []string{signing.ES256, signing.EdDSA} {
		k := key(t, alg)
		ks := keySet(t, []string{alg}, k)
		tok := sized(t, k, signing.MaxTokenSize)
		var m map[string]any
		if err := ks.Verify(tok, signing.TypAccessToken, &m); err != nil {
			t.Errorf("%s token of exactly %d bytes: %v", alg, len(tok), err)
		}
		if err := ks.Verify(sized(t, k, signing.MaxTokenSize+1), signing.TypAccessToken, &m); !errors.Is(err, signing.ErrTooLarge) {
			t.Errorf("%s token of %d bytes: %v, want ErrTooLarge", alg, signing.MaxTokenSize+1, err)
		}
	}
}

func TestNilKeySetRefuses(t *testing.T) {
	var ks *signing.KeySet
	tok := mustSign(t, key(t, signing.ES256).signer, sampleClaims())
	if err := ks.Verify(tok, signing.TypAccessToken, nil); !errors.Is(err, signing.ErrUnknownKey) {
		t.Errorf("nil KeySet: Verify = %v, want ErrUnknownKey", err)
	}
	if ks.Has(key(t, signing.ES256).kid) || ks.Len() != 0 || string(ks.JWKS()) != `{"keys":[]}` {
		t.Errorf("nil KeySet: Has/Len/JWKS = %v/%d/%s", ks.Has(key(t, signing.ES256).kid), ks.Len(), ks.JWKS())
	}
}
