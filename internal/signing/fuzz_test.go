package signing_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/signing"
)

// Fixed public keys and tokens they signed (claims iss
// https://id.example.com, sub user-1, aud api, exp 2100-01-01), so that
// every fuzz worker process knows the same valid tokens. Only the public
// halves are kept; the private ones were thrown away after signing.
const (
	fuzzES256Kid = "j41vB3Q87Uheddi6Rxsyhw"
	fuzzES256JWK = `{"use":"sig","kty":"EC","kid":"j41vB3Q87Uheddi6Rxsyhw","crv":"P-256","alg":"ES256","x":"YLBv2klWGfT7RBC1wFq3ghZSvM_EmDnoE1aqOgvgNqA","y":"BSOxYPDYZWlnDKBlRqvVY-ZjcWEX2K_SqW2m5bT0YT8"}`
	fuzzES256Tok = "eyJhbGciOiJFUzI1NiIsImtpZCI6Imo0MXZCM1E4N1VoZWRkaTZSeHN5aHciLCJ0eXAiOiJhdCtqd3QifQ." +
		"eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoidXNlci0xIiwiYXVkIjoiYXBpIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NjcyMjU2MDAsImp0aSI6Imp0aS0xIn0." +
		"eFsKbXlyx7ld1n4HNx2UDqIDU4hLtsK5nfARMU2KaVYMyP58AIkmcWAMb4iyiGPkGKywKl1W4wULJMyoga-GpA"
	fuzzEdDSAJWK = `{"use":"sig","kty":"OKP","kid":"e1gwyQqfgQC-7XrEiRexhg","crv":"Ed25519","alg":"EdDSA","x":"ZqXILEe7p3xJGH5ChbP7gx5rTMWzSAf3rUQKIf2Iy2M"}`
	fuzzEdDSATok = "eyJhbGciOiJFZERTQSIsImtpZCI6ImUxZ3d5UXFmZ1FDLTdYckVpUmV4aGciLCJ0eXAiOiJhdCtqd3QifQ." +
		"eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoidXNlci0xIiwiYXVkIjoiYXBpIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NjcyMjU2MDAsImp0aSI6Imp0aS0xIn0." +
		"1kOjATQasvQUNKBAeEygHqtd0Puqco2GiNj9DheoaTxU759jMAKLrSGyTBVgIHtX_79gsinz5YriaIxkhNLdDQ"
)

// FuzzVerify feeds Verify arbitrary strings: it must never panic, must
// refuse with exactly one of its sentinels, and may accept only the fixed
// valid tokens (any other string that verifies would be a forgery or a
// malleable encoding).
func FuzzVerify(f *testing.F) {
	ks, err := signing.NewKeySet([][]byte{[]byte(fuzzES256JWK), []byte(fuzzEdDSAJWK)},
		[]string{signing.ES256, signing.EdDSA, signing.PS256})
	if err != nil {
		f.Fatal(err)
	}
	valid := []string{fuzzES256Tok, fuzzEdDSATok}
	parts := strings.Split(fuzzES256Tok, ".")
	payload := `{"iss":"https://id.example.com","sub":"user-1","aud":"api","exp":4102444800}`
	at := map[string]any{"kid": fuzzES256Kid, "typ": signing.TypAccessToken}
	seeds := []string{
		fuzzES256Tok,
		fuzzEdDSATok,
		noneToken(fuzzES256Kid, payload),
		signRaw(f, jose.HS256, []byte(fuzzES256JWK), at, []byte(payload)),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + b64(payload) + "." + parts[2],
		parts[0][:8] + "\r\n" + parts[0][8:] + "." + parts[1] + "." + parts[2],
		fuzzES256Tok + "\r\n",
		fuzzES256Tok + "\x00",
		"\x00" + fuzzES256Tok,
		strings.Replace(fuzzES256Tok, ".", "..", 1),
		`{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] +
			`"},{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`,
		strings.Repeat("A", signing.MaxTokenSize+1),
		strings.Repeat("eyJ.", signing.MaxTokenSize/4),
		"..",
		".",
		"",
		"a.b.c",
		b64(`{"alg":"ES256","kid":"`+fuzzES256Kid+`","typ":"at+jwt","crit":["b64"],"b64":false}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","kid":{"x":1},"typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"PS256","kid":"`+fuzzES256Kid+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","kid":"`+fuzzES256Kid+`","typ":"at+jwt","x5c":["AAAA"]}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"ES256","kid":"`+fuzzES256Kid+`","typ":"at+jwt","jwk":{"kty":"oct","k":"AAAA"}}`) + "." + parts[1] + "." + parts[2],
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		var out accessClaims
		err := ks.Verify(token, signing.TypAccessToken, &out)
		if err == nil {
			if !slices.Contains(valid, token) {
				t.Fatalf("Verify accepted a token that is not one of the fixed valid ones: %q", token)
			}
			if out.Subject != "user-1" || out.Issuer != "https://id.example.com" {
				t.Fatalf("valid token decoded to %+v", out)
			}
			return
		}
		if names := matchedSentinels(err); len(names) != 1 {
			t.Fatalf("Verify(%q) = %v, matching sentinels %v; want exactly one", token, err, names)
		}
	})
}

// FuzzAudienceJSON checks that whatever decodes as an aud claim encodes
// back (a string for one audience, an array otherwise) and decodes again
// to the same audiences.
func FuzzAudienceJSON(f *testing.F) {
	for _, s := range []string{`"api"`, `["api"]`, `["api","web"]`, `[]`, `null`, `""`, `[""]`, `[null]`,
		`1`, `{"a":1}`, `["a",1]`, `"\u0000"`, `"a\r\nb"`, `"\ud800"`, "\"\xff\"", ` "api" `, `["a"]x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a signing.Audience
		if err := json.Unmarshal(data, &a); err != nil {
			return
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", a, err)
		}
		if want := byte('['); len(a) == 1 {
			if b[0] != '"' {
				t.Fatalf("one audience encoded as %s, want a string", b)
			}
		} else if b[0] != want {
			t.Fatalf("%d audiences encoded as %s, want an array", len(a), b)
		}
		var again signing.Audience
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("Unmarshal(%s) of our own encoding: %v", b, err)
		}
		if !slices.Equal(a, again) {
			t.Fatalf("round trip changed %q to %q", a, again)
		}
	})
}
