package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

const benchIssuer = "http://127.0.0.1:8080"

// benchHandler is the whole HTTP surface wired as internal/app's open and
// serve wire it, on a fresh migrated SQLite store, plus a confidential
// client (Basic credentials) and one of its access tokens.
type benchHandler struct {
	h     http.Handler
	basic string
	token string
}

func newBenchHandler(b *testing.B) *benchHandler {
	b.Helper()
	ctx := context.Background()
	st := storetest.BenchEngines(b)[store.EngineSQLite](b)
	rec := audit.NewRecorder(st, storetest.ChainKey)
	rb := rbac.NewService(st, rec)
	if err := rb.EnsureDefaults(ctx); err != nil {
		b.Fatal(err)
	}
	hasher := user.NewHasher(user.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 2, 8)
	rev := oauth.NewRevocations(st, rec, 15*time.Minute)
	if err := rev.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	users := user.NewService(st, rb, rec, hasher, user.DefaultPolicy(), user.DefaultLockoutPolicy(), rev)
	kr, err := secret.NewKeyring(secret.RandomBytes(32))
	if err != nil {
		b.Fatal(err)
	}
	keys := oauth.NewKeyManager(st, kr, rec, signing.ES256, 30*24*time.Hour, 15*time.Minute)
	if _, err := keys.Ensure(ctx, false); err != nil {
		b.Fatal(err)
	}
	svc := oauth.NewService(oauth.Options{
		Issuer: benchIssuer, Audiences: []string{benchIssuer}, AccessTTL: 15 * time.Minute, IDTokenTTL: 15 * time.Minute,
		RefreshTTL: 30 * 24 * time.Hour, RefreshIdleTTL: 7 * 24 * time.Hour, ReuseGrace: 10 * time.Second,
		RoleClaims: true, PasswordGrant: true,
	}, oauth.Deps{Store: st, Users: users, UserStore: st, RBAC: rb, Audit: rec, Keys: keys, Revocations: rev})
	if err := svc.EnsureBuiltInClient(ctx); err != nil {
		b.Fatal(err)
	}
	h, err := server.New(server.Deps{Users: users, UserStore: st, RBAC: rb, OAuth: svc, Audit: rec, AuditStore: st,
		Issuer: benchIssuer, Audiences: []string{benchIssuer}, BodyLimit: 64 << 10, Version: "bench", Ready: st.Ping})
	if err != nil {
		b.Fatal(err)
	}
	c, sec, err := svc.CreateClient(ctx, oauth.NewClient{Name: "bench", Type: oauth.ClientConfidential,
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{rbac.PermTokensIntrospect}})
	if err != nil {
		b.Fatal(err)
	}
	resp, err := svc.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: c.ID, ClientSecret: sec})
	if err != nil {
		b.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID) + ":" + url.QueryEscape(sec)))
	return &benchHandler{h: h, basic: basic, token: resp.AccessToken}
}

// serve runs one request through h and fails unless it answers 200.
func serve(b *testing.B, h http.Handler, method, target, body string, header map[string]string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
	}
}

// minimalHandler is the load test's reference handler, in process: what
// the Gatehouse handlers cost beyond it is middleware and their own work.
var minimalHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
})

func BenchmarkMinimalHandler(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		serve(b, minimalHandler, http.MethodGet, "/", "", nil)
	}
}

func BenchmarkJWKS(b *testing.B) {
	bh := newBenchHandler(b)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, bh.h, http.MethodGet, "/.well-known/jwks.json", "", nil)
	}
}

func BenchmarkDiscovery(b *testing.B) {
	bh := newBenchHandler(b)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, bh.h, http.MethodGet, "/.well-known/openid-configuration", "", nil)
	}
}

// BenchmarkIntrospect is POST /oauth2/introspect of a (cached) JWT access
// token by a confidential client with Basic credentials, as the load test
// sends it.
func BenchmarkIntrospect(b *testing.B) {
	bh := newBenchHandler(b)
	body := "token=" + url.QueryEscape(bh.token)
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + bh.basic}
	b.ReportAllocs()
	for b.Loop() {
		serve(b, bh.h, http.MethodPost, "/oauth2/introspect", body, hdr)
	}
}
