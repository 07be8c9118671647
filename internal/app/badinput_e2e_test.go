package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// serverKey returns the server's current private signing key, read from its
// database and opened with its master key, so a test can mint tokens that
// differ from real ones in exactly one respect.
func serverKey(t *testing.T, s *testServer) jose.JSONWebKey {
	t.Helper()
	ctx := t.Context()
	var mk []byte
	var err error
	if v := s.env["GATEHOUSE_MASTER_KEY"]; v != "" {
		mk, err = secret.ParseMasterKey(v)
	} else {
		mk, _, err = secret.LoadOrCreateDevMasterKey(s.env["GATEHOUSE_DATA_DIR"])
	}
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secret.NewKeyring(mk)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: s.env["GATEHOUSE_DATABASE_URL"], DataDir: s.env["GATEHOUSE_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := st.ListSigningKeys(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ActivatedAt != nil && k.RetiredAt == nil {
			b, err := kr.Open(k.PrivateSealed, "signing_key:"+k.KID)
			if err != nil {
				t.Fatal(err)
			}
			var jwk jose.JSONWebKey
			if err := jwk.UnmarshalJSON(b); err != nil {
				t.Fatal(err)
			}
			return jwk
		}
	}
	t.Fatal("no current signing key")
	return jose.JSONWebKey{}
}

// mint signs claims as a compact JWS with the given header fields ("" typ: none).
func mint(t *testing.T, key any, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsigned builds a token whose header and signature are whatever the test says.
func unsigned(header, claims map[string]any, sign func(input string) string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return in + "." + sign(in)
}

func with(claims map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	out["jti"] = secret.Token()[:22] // a fresh token, not one verified before
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestForgedTokensRefused covers SPEC §13 on every endpoint that reads an
// access token: none and HMAC algorithms, unknown kid, wrong typ, foreign
// signatures, ID tokens, oversize and expired tokens.
func TestForgedTokensRefused(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.no5xx = true
	admin := s.admin()
	login := s.login("admin", adminPassword, "scope", "openid profile")
	claims := jwtClaims(t, login["access_token"].(string))
	key := serverKey(t, s)
	kid := key.KeyID
	alg := jose.SignatureAlgorithm(key.Algorithm)
	if h := jwtHeader(t, login["access_token"].(string)); h["kid"] != kid {
		t.Fatalf("the key read from the store (%s) is not the one signing (%v)", kid, h["kid"])
	}
	jwks := s.api("GET", "/.well-known/jwks.json", "", nil).Body
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var pubJWK []byte
	for _, k := range set.Keys {
		if strings.Contains(string(k), kid) {
			pubJWK = k
		}
	}
	hs256 := func(secret []byte) func(string) string {
		return func(in string) string {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
	}
	own, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	real := login["access_token"].(string)
	parts := strings.Split(real, ".")
	tampered := with(claims, "scope", claims["scope"].(string)+" superuser:all")
	delete(tampered, "jti")
	tampered["jti"] = claims["jti"]
	tb, _ := json.Marshal(tampered)

	// The control: a token minted here like the server does is accepted, so
	// each refusal below is for the one thing that differs.
	good := mint(t, key.Key, alg, kid, "at+jwt", with(claims))
	want(t, s.api("GET", "/api/v1/me", good, nil), http.StatusOK)
	want(t, s.api("GET", "/api/v1/me", mint(t, key.Key, alg, kid, "application/at+jwt", with(claims)), nil), http.StatusOK)

	for _, c := range []struct {
		name, token string
		apiOnly     bool // refused by the API (audience); userinfo and introspection may accept it
	}{
		{"alg none", unsigned(map[string]any{"alg": "none", "kid": kid, "typ": "at+jwt"}, with(claims), func(string) string { return "" }), false},
		{"alg None", unsigned(map[string]any{"alg": "None", "kid": kid, "typ": "at+jwt"}, with(claims), func(string) string { return "" }), false},
		{"HS256 keyed with the public JWK", unsigned(map[string]any{"alg": "HS256", "kid": kid, "typ": "at+jwt"}, with(claims), hs256(pubJWK)), false},
		{"HS256 keyed with the JWKS", unsigned(map[string]any{"alg": "HS256", "kid": kid, "typ": "at+jwt"}, with(claims), hs256(jwks)), false},
		{"unknown kid", mint(t, key.Key, alg, "no-such-kid", "at+jwt", with(claims)), false},
		{"no kid", mint(t, key.Key, alg, "", "at+jwt", with(claims)), false},
		{"own key with the server's kid", mint(t, own, jose.ES256, kid, "at+jwt", with(claims)), false},
		{"typ JWT", mint(t, key.Key, alg, kid, "JWT", with(claims)), false},
		{"no typ", mint(t, key.Key, alg, kid, "", with(claims)), false},
		{"ID token", login["id_token"].(string), false},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tb) + "." + parts[2], false},
		{"expired", mint(t, key.Key, alg, kid, "at+jwt", with(claims, "iat", now-3600, "nbf", now-3600, "exp", now-120)), false},
		{"not yet valid", mint(t, key.Key, alg, kid, "at+jwt", with(claims, "iat", now+3600, "nbf", now+3600, "exp", now+7200)), false},
		{"other issuer", mint(t, key.Key, alg, kid, "at+jwt", with(claims, "iss", "https://evil.example")), false},
		{"other audience", mint(t, key.Key, alg, kid, "at+jwt", with(claims, "aud", "https://evil.example")), true},
		{"over 8 KiB", mint(t, key.Key, alg, kid, "at+jwt", with(claims, "pad", strings.Repeat("A", 8<<10))), false},
		{"two dots of garbage", "a.b.c", false},
		{"trailing dot", real + ".", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, s.api("GET", "/api/v1/me", c.token, nil), http.StatusUnauthorized, "invalid_token")
			if c.apiOnly {
				return
			}
			r := s.do("GET", "/oauth2/userinfo", c.token, "", nil)
			if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_token" {
				t.Errorf("userinfo: %d %s", r.Status, r.Body)
			}
			r = s.form("/oauth2/introspect", admin, url.Values{"token": {c.token}})
			if want := `{"active":false}`; r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != want {
				t.Errorf("introspect: %d %s, want %s", r.Status, r.Body, want)
			}
			if r := s.form("/oauth2/introspect", c.token, url.Values{"token": {good}}); r.Status != http.StatusUnauthorized {
				t.Errorf("introspect with it as the Bearer: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestBadInputAPI covers SPEC §9 and Appendix A status codes for request
// bodies, and the hardening every response carries. No answer is a 5xx.
func TestBadInputAPI(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.no5xx = true
	admin := s.admin()
	for _, c := range []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"malformed JSON", `{"username":`, 400, "malformed_json", ""},
		{"not JSON", `username=x`, 400, "malformed_json", ""},
		{"unknown field", `{"username":"abc","admin":true}`, 400, "malformed_json", ""},
		{"wrong type", `{"username":5}`, 400, "malformed_json", "username"},
		{"array body", `[]`, 400, "malformed_json", ""},
		{"empty body", ``, 400, "malformed_json", ""},
		{"trailing garbage", `{"username":"abc"} x`, 400, "malformed_json", ""},
		{"two values", `{"username":"abc"}{}`, 400, "malformed_json", ""},
		{"over 64 KiB", `{"username":"abc","display_name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large", ""},
		{"missing username", `{}`, 422, "validation_failed", "username"},
		{"null", `null`, 422, "validation_failed", "username"},
		{"NUL in username", `{"username":"bad\u0000name"}`, 422, "validation_failed", "username"},
		{"CRLF in username", `{"username":"bad\r\nname"}`, 422, "validation_failed", "username"},
		{"space in username", `{"username":"bad name"}`, 422, "validation_failed", "username"},
		{"right-to-left override", `{"username":"abc\u202Egpj.exe"}`, 422, "validation_failed", "username"},
		{"zero-width space", `{"username":"ad\u200Bmin"}`, 422, "validation_failed", "username"},
		{"dot dot slash", `{"username":"../../etc/passwd"}`, 422, "validation_failed", "username"},
		{"invalid UTF-8", "{\"username\":\"\xff\xfe\"}", 422, "validation_failed", "username"},
		{"65 characters", `{"username":"` + strings.Repeat("a", 65) + `"}`, 422, "validation_failed", "username"},
		{"huge username", `{"username":"` + strings.Repeat("é", 20000) + `"}`, 422, "validation_failed", "username"},
		{"control in display name", `{"username":"abc","display_name":"a\u0007b"}`, 422, "validation_failed", "display_name"},
		{"long display name", `{"username":"abc","display_name":"` + strings.Repeat("d", 129) + `"}`, 422, "validation_failed", "display_name"},
		{"bad email", `{"username":"abc","email":"Abc <abc@example.com>"}`, 422, "validation_failed", "email"},
		{"unknown role", `{"username":"abc","roles":["root"]}`, 422, "validation_failed", "roles"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := wantProblem(t, s.api("POST", "/api/v1/users", admin, c.body), c.status, c.code)
			if c.field != "" && fieldErr(m, c.field) == "" {
				t.Errorf("want errors.%s: %v", c.field, m)
			}
		})
	}
	// 64 characters is the longest username.
	want(t, s.api("POST", "/api/v1/users", admin, map[string]any{"username": strings.Repeat("b", 64)}), http.StatusCreated)
	wantProblem(t, s.do("POST", "/api/v1/users", admin, "text/plain", strings.NewReader(`{"username":"abc"}`)), 415, "unsupported_media_type")

	// Methods and paths (TestWrongMethod has the 405s).
	for _, m := range []string{"TRACE", "CONNECT"} {
		if r := s.do(m, "/api/v1/me", admin, "", nil); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, r.Status)
		}
	}
	wantProblem(t, s.api("GET", "/api/v1/nope", admin, nil), http.StatusNotFound, "not_found")
	wantProblem(t, s.api("GET", "/", "", nil), http.StatusNotFound, "not_found")
	for _, p := range []string{"/api/v1/users/..%2f..%2fetc%2fpasswd", "/api/v1/users/%00", "/static/", "/debug/pprof/", "/api/v1/users/" + strings.Repeat("x", 4000)} {
		if r := s.api("GET", p, admin, nil); r.Status == http.StatusOK || r.Status >= 500 {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}

	// Headers on every kind of answer; the request id is echoed when well-formed.
	for _, r := range []response{s.api("GET", "/api/v1/me", admin, nil), s.api("GET", "/api/v1/nope", "", nil),
		s.form("/oauth2/token", "", url.Values{}), s.api("GET", "/healthz", "", nil)} {
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Request-Id") == "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("status %d: headers %v", r.Status, r.Header)
		}
	}
	for id, echoed := range map[string]bool{"abc-123_X.y": true, "bad id": false, strings.Repeat("a", 65): false, "ümlaut": false, "a\tb": false} {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/nope", nil)
		req.Header.Set("X-Request-Id", id)
		r := s.send(req)
		if got := r.Header.Get("X-Request-Id"); (got == id) != echoed || got == "" || r.JSON(t)["request_id"] != got {
			t.Errorf("request id %q answered as %q (body %s)", id, got, r.Body)
		}
	}
}

// TestTokenEndpointBadInput covers RFC 6749 §3.2 and §5.2 on malformed requests.
func TestTokenEndpointBadInput(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	s.no5xx = true
	form := "application/x-www-form-urlencoded"
	pw := "grant_type=password&username=admin&password=" + url.QueryEscape(adminPassword)
	for _, c := range []struct {
		name, ct, body, auth string
		status               int
		code                 string
	}{
		{"repeated grant_type", form, pw + "&grant_type=password", "", 400, "invalid_request"},
		{"repeated username", form, pw + "&username=admin", "", 400, "invalid_request"},
		{"JSON body", "application/json", `{"grant_type":"password"}`, "", 400, "invalid_request"},
		{"no content type", "", pw, "", 400, "invalid_request"},
		{"no grant_type", form, "username=admin", "", 400, "invalid_request"},
		{"unknown grant", form, "grant_type=urn:nope", "", 400, "unsupported_grant_type"},
		{"control characters in grant", form, "grant_type=" + url.QueryEscape("a\x00\r\nb"), "", 400, "unsupported_grant_type"},
		{"bad form encoding", form, "grant_type=%zz", "", 400, "invalid_request"},
		{"over the body limit", form, pw + "&x=" + strings.Repeat("a", 70<<10), "", 413, "invalid_request"},
		{"NUL in username", form, "grant_type=password&username=ad%00min&password=x", "", 400, "invalid_grant"},
		{"CRLF in username", form, "grant_type=password&username=admin%0D%0A&password=x", "", 400, "invalid_grant"},
		{"huge password", form, "grant_type=password&username=admin&password=" + strings.Repeat("p", 60<<10), "", 400, "invalid_grant"},
		{"bad scope character", form, pw + "&scope=" + url.QueryEscape(`a"b`), "", 400, "invalid_scope"},
		{"foreign resource", form, pw + "&resource=https://evil.example", "", 400, "invalid_target"},
		{"malformed Basic", form, pw, "Basic !!!", 401, "invalid_client"},
		{"Basic and a body secret", form, pw + "&client_secret=x", "Basic " + base64.StdEncoding.EncodeToString([]byte("gatehouse:")), 400, "invalid_request"},
		{"unknown client", form, pw + "&client_id=nope", "", 401, "invalid_client"},
		{"secret for a public client", form, pw + "&client_id=gatehouse&client_secret=x", "", 401, "invalid_client"},
		{"refresh token garbage", form, "grant_type=refresh_token&refresh_token=" + strings.Repeat("r", 600), "", 400, "invalid_request"},
		{"unknown refresh token", form, "grant_type=refresh_token&refresh_token=nope", "", 400, "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			r := s.send(req)
			m := r.JSON(t)
			if r.Status != c.status || m["error"] != c.code || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if d, _ := m["error_description"].(string); d == "" || strings.ContainsAny(d, "\x00\r\n") {
				t.Errorf("error_description echoes control characters: %q", m["error_description"])
			}
		})
	}
	if r := s.api("GET", "/oauth2/token", "", nil); r.Status == http.StatusOK {
		t.Errorf("GET /oauth2/token: %d", r.Status)
	}
}

// TestClientIPFromProxies covers SPEC §13: X-Forwarded-For is believed only
// from a trusted proxy, and then its right-most untrusted address counts.
func TestClientIPFromProxies(t *testing.T) {
	for _, c := range []struct {
		name, trusted, xff, want string
	}{
		{"untrusted peer", "", "203.0.113.7", "127.0.0.1"},
		{"trusted peer", "127.0.0.1/32", "203.0.113.7", "203.0.113.7"},
		{"right-most untrusted hop", "127.0.0.1/32,10.0.0.0/8", "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"},
		{"garbage hop", "127.0.0.1/32", "garbage", "127.0.0.1"},
		{"IPv4-mapped IPv6", "127.0.0.1/32", "::ffff:203.0.113.9", "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_TRUSTED_PROXIES": c.trusted})
			s.no5xx = true
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(passwordForm("admin", adminPassword).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", c.xff)
			req.Header.Set("X-Request-Id", "xff-test")
			r := s.send(req)
			want(t, r, http.StatusOK)
			at := r.JSON(t)["access_token"].(string)
			found := false
			for _, e := range s.audit(at, "action=auth.login&limit=5") {
				if e["request_id"] == "xff-test" {
					found = true
					if e["ip"] != c.want {
						t.Errorf("audit ip %v, want %s", e["ip"], c.want)
					}
				}
			}
			if !found {
				t.Fatal("no auth.login event with the request id")
			}
			if sess := s.api("GET", "/api/v1/me/sessions", at, nil).JSON(t)["items"].([]any); sess[0].(map[string]any)["ip"] != c.want {
				t.Errorf("session ip %v, want %s", sess[0].(map[string]any)["ip"], c.want)
			}
		})
	}
}
