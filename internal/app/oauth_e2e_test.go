package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestOAuthWithStandardClients drives the token endpoint with
// golang.org/x/oauth2 and verifies what it issues with coreos/go-oidc
// through discovery and the JWKS, on every engine.
func TestOAuthWithStandardClients(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			ctx := context.Background()
			provider, err := oidc.NewProvider(ctx, s.URL)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			conf := oauth2.Config{ClientID: "gatehouse", Endpoint: oauth2.Endpoint{TokenURL: provider.Endpoint().TokenURL, AuthStyle: oauth2.AuthStyleInParams},
				Scopes: []string{"openid", "profile"}}

			tok, err := conf.PasswordCredentialsToken(ctx, "admin", adminPassword)
			if err != nil {
				t.Fatalf("password grant: %v", err)
			}
			if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
				t.Fatalf("token response lacks a refresh token or Bearer type: %+v", tok)
			}

			// The ID token verifies through discovery and the JWKS.
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: "gatehouse"}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var idc struct {
				Username string   `json:"preferred_username"`
				AMR      []string `json:"amr"`
			}
			if err := idt.Claims(&idc); err != nil || idc.Username != "admin" || len(idc.AMR) == 0 {
				t.Fatalf("ID token claims = %+v, %v", idc, err)
			}

			// The access token is an RFC 9068 JWT signed by a key of the JWKS.
			atv := provider.Verifier(&oidc.Config{SkipClientIDCheck: true})
			at, err := atv.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("access token: %v", err)
			}
			if typ := jwtHeader(t, tok.AccessToken)["typ"]; typ != "at+jwt" {
				t.Errorf("access token typ = %v, want at+jwt", typ)
			}
			var c struct {
				ClientID string   `json:"client_id"`
				Scope    string   `json:"scope"`
				Roles    []string `json:"roles"`
				JTI      string   `json:"jti"`
				AuthTime int64    `json:"auth_time"`
				AMR      []string `json:"amr"`
				Email    string   `json:"email"`
			}
			if err := at.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.ClientID != "gatehouse" || c.JTI == "" || c.AuthTime == 0 || !contains(c.AMR, "pwd") || !contains(c.Roles, "admin") {
				t.Errorf("access token claims = %+v", c)
			}
			if !strings.Contains(c.Scope, "users:manage") || c.Email != "" {
				t.Errorf("scope %q should carry the admin's permissions and no personal data", c.Scope)
			}
			if !contains(at.Audience, s.URL) || !strings.HasPrefix(at.Subject, "usr_") {
				t.Errorf("aud %v sub %q", at.Audience, at.Subject)
			}

			// Userinfo answers for the access token.
			ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || ui.Subject != at.Subject {
				t.Fatalf("userinfo: %v, %+v", err, ui)
			}

			// Refresh through x/oauth2: a new refresh token every time.
			expired := *tok
			expired.Expiry = expired.Expiry.Add(-24 * 60 * 60 * 1e9)
			next, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate the tokens")
			}
			if _, err := atv.Verify(ctx, next.AccessToken); err != nil {
				t.Fatalf("refreshed access token: %v", err)
			}
		})
	}
}

func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRefreshReuse covers SPEC §5: a retry within the grace returns the very
// same response, concurrent uses do not break the session, and a reuse after
// the grace revokes the whole family and is audited.
func TestRefreshReuse(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			first := s.login("admin", adminPassword)
			rt := first["refresh_token"].(string)
			refresh := func(token string) response {
				return s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
			}
			// Eight concurrent uses of one token: all succeed with one identical answer.
			var wg sync.WaitGroup
			bodies := make([]string, 8)
			for i := range bodies {
				wg.Go(func() {
					r := refresh(rt)
					if r.Status != http.StatusOK {
						t.Errorf("concurrent refresh %d: %d %s", i, r.Status, r.Body)
					}
					bodies[i] = string(r.Body)
				})
			}
			wg.Wait()
			for i := range bodies {
				if bodies[i] != bodies[0] {
					t.Fatalf("concurrent refreshes answered differently:\n%s\n%s", bodies[0], bodies[i])
				}
			}
			var succ map[string]any
			_ = json.Unmarshal([]byte(bodies[0]), &succ)
			// The successor works; using it rotates again.
			r := refresh(succ["refresh_token"].(string))
			want(t, r, http.StatusOK)
			third := r.JSON(t)
			// The successor is now rotated too; the retry replays, the family lives.
			again := refresh(succ["refresh_token"].(string))
			want(t, again, http.StatusOK)
			if again.JSON(t)["refresh_token"] != third["refresh_token"] {
				t.Fatal("a retry within the grace must replay the same successor")
			}
			// The session's access token works until the family is revoked.
			at := third["access_token"].(string)
			want(t, s.api("GET", "/api/v1/me", at, nil), http.StatusOK)
		})
	}
}

// TestRefreshReuseAfterGraceRevokesFamily uses a zero grace: any second use
// of a rotated token is theft.
func TestRefreshReuseAfterGraceRevokesFamily(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "0s"})
	first := s.login("admin", adminPassword)
	rt := first["refresh_token"].(string)
	refresh := func(token string) response {
		return s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
	}
	r := refresh(rt)
	want(t, r, http.StatusOK)
	succ := r.JSON(t)
	at := succ["access_token"].(string)
	want(t, s.api("GET", "/api/v1/me", at, nil), http.StatusOK)

	stolen := refresh(rt) // the old token again: reuse
	want(t, stolen, http.StatusBadRequest)
	if e := stolen.JSON(t)["error"]; e != "invalid_grant" {
		t.Fatalf("reuse answered %v", e)
	}
	// The whole family is dead: the successor and its access token too.
	want(t, refresh(succ["refresh_token"].(string)), http.StatusBadRequest)
	want(t, s.api("GET", "/api/v1/me", at, nil), http.StatusUnauthorized)
	events := s.api("GET", "/api/v1/audit?action=token.reuse_detected", s.freshAdmin(), nil)
	want(t, events, http.StatusOK)
	if items := events.JSON(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("want one token.reuse_detected event, got %d", len(items))
	}
}

// TestForgedRefreshTokenNamingAFamily: a refresh token names its session
// and generation (decisions.md #24), which are no secret (the session id is
// the access token's sid); a token that names a live family's current or
// rotated generation with any other random part is unknown to every
// endpoint: it neither rotates, replays, revokes nor ends the family, even
// with no grace, where presenting the real rotated token would.
func TestForgedRefreshTokenNamingAFamily(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "0s"})
	first := s.login("admin", adminPassword)
	rt := first["refresh_token"].(string)
	r := s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	want(t, r, http.StatusOK)
	live := r.JSON(t)
	next := live["refresh_token"].(string)
	sid, _ := strings.CutSuffix(next[:len(next)-43], "_1_")
	if sid == next[:len(next)-43] || !strings.HasPrefix(sid, "ses_") {
		t.Fatalf("refresh token %q does not name its session and generation 1", next)
	}
	c := s.api("POST", "/api/v1/clients", s.admin(), map[string]any{"name": "introspector", "type": "confidential",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"tokens:introspect"}})
	want(t, c, http.StatusCreated)
	cl := c.JSON(t)
	active := func(tok string) any {
		req, _ := http.NewRequest("POST", s.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cl["client_id"].(string), cl["client_secret"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
			t.Fatalf("introspect status %d", resp.StatusCode)
		}
		return m["active"]
	}
	if active(next) != true {
		t.Fatal("the live refresh token introspects inactive")
	}
	forge := func(gen int) string { return fmt.Sprintf("%s_%d_%s", sid, gen, strings.Repeat("A", 43)) }
	for _, tok := range []string{forge(0), forge(1), forge(2)} {
		r := s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
		want(t, r, http.StatusBadRequest)
		if e := r.JSON(t)["error"]; e != "invalid_grant" {
			t.Fatalf("forged %q answered %v", tok, e)
		}
		if active(tok) != false {
			t.Fatalf("forged %q introspects active", tok)
		}
		want(t, s.form("/oauth2/revoke", "", url.Values{"token": {tok}, "client_id": {"gatehouse"}}), http.StatusOK)
	}
	if active(next) != true {
		t.Fatal("forged tokens ended the family")
	}
	// The family lives: its access token works, and its token rotates.
	want(t, s.api("GET", "/api/v1/me", live["access_token"].(string), nil), http.StatusOK)
	want(t, s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}), http.StatusOK)
	events := s.api("GET", "/api/v1/audit?action=token.reuse_detected", s.freshAdmin(), nil)
	want(t, events, http.StatusOK)
	if items := events.JSON(t)["items"].([]any); len(items) != 0 {
		t.Fatalf("forged tokens recorded %d token.reuse_detected events", len(items))
	}
}

// TestRefreshReplaysPruned: through the running server, a rotation's sealed
// response is kept while a retry may need it and deleted once the grace is
// over (1 s here, so the pruner runs every second), while the family lives on.
func TestRefreshReplaysPruned(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "1s"})
			st, err := store.Open(t.Context(), store.Options{DatabaseURL: s.env["GATEHOUSE_DATABASE_URL"], DataDir: s.env["GATEHOUSE_DATA_DIR"]})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			refresh := func(token string) map[string]any {
				t.Helper()
				r := s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
				want(t, r, http.StatusOK)
				return r.JSON(t)
			}
			rt := s.login("admin", adminPassword)["refresh_token"].(string)
			succ := refresh(rt)
			if again := refresh(rt); again["refresh_token"] != succ["refresh_token"] {
				t.Fatal("a retry within the grace must get the same response")
			}
			if id, err := st.LastRefreshReplayID(t.Context()); err != nil || id == 0 {
				t.Fatalf("no replay stored after a rotation: %d, %v", id, err)
			}
			// Grace 1 s, pruner every second, margin one interval: gone
			// within about 4 s; allow for a slow machine.
			deadline := time.Now().Add(30 * time.Second)
			for {
				id, err := st.LastRefreshReplayID(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if id == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the replay outlived its grace by 30 s")
				}
				time.Sleep(100 * time.Millisecond)
			}
			// The rotated token is still known (its reuse revokes the family),
			// and the newest one refreshes.
			if _, err := st.GetRefreshToken(t.Context(), oauth.RefreshKeyOf(rt)); err != nil {
				t.Fatalf("the rotated token is gone with its replay: %v", err)
			}
			refresh(succ["refresh_token"].(string))
		})
	}
}

// freshAdmin signs the admin in again (a new session).
func (s *testServer) freshAdmin() string {
	s.t.Helper()
	return s.login("admin", adminPassword)["access_token"].(string)
}

// TestClientCredentialsIntrospectRevoke covers the machine grant and RFC 7662 / 7009.
func TestClientCredentialsIntrospectRevoke(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, engine, nil)
			admin := s.admin()
			r := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": "reports", "type": "confidential",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"documents:read", "tokens:introspect"}})
			want(t, r, http.StatusCreated)
			cl := r.JSON(t)
			id, sec := cl["client_id"].(string), cl["client_secret"].(string)
			if len(sec) < 40 {
				t.Fatalf("client secret too short: %d", len(sec))
			}
			cc := clientcredentials.Config{ClientID: id, ClientSecret: sec, TokenURL: s.URL + "/oauth2/token", Scopes: []string{"documents:read"}}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatalf("client_credentials: %v", err)
			}
			bad := clientcredentials.Config{ClientID: id, ClientSecret: sec + "x", TokenURL: s.URL + "/oauth2/token"}
			if _, err := bad.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
				t.Fatalf("wrong secret: %v", err)
			}

			introspect := func(token string) map[string]any {
				req, _ := http.NewRequest("POST", s.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, sec)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&m) != nil {
					t.Fatalf("introspect status %d", resp.StatusCode)
				}
				return m
			}
			m := introspect(tok.AccessToken)
			if m["active"] != true || m["client_id"] != id || m["scope"] != "documents:read" {
				t.Fatalf("introspect client token = %v", m)
			}
			user := s.login("admin", adminPassword)
			if m := introspect(user["refresh_token"].(string)); m["active"] != true || m["token_type"] != "refresh_token" {
				t.Fatalf("introspect refresh token = %v", m)
			}
			if m := introspect("garbage"); len(m) != 1 || m["active"] != false {
				t.Fatalf("introspect garbage = %v", m)
			}
			// Anonymous introspection is refused.
			r = s.form("/oauth2/introspect", "", url.Values{"token": {tok.AccessToken}})
			want(t, r, http.StatusUnauthorized)

			// Revoking the access token denies it at once.
			r = s.form("/oauth2/revoke", "", url.Values{"token": {user["access_token"].(string)}, "client_id": {"gatehouse"}})
			want(t, r, http.StatusOK)
			if m := introspect(user["access_token"].(string)); m["active"] != false {
				t.Fatalf("revoked access token still active: %v", m)
			}
			want(t, s.api("GET", "/api/v1/me", user["access_token"].(string), nil), http.StatusUnauthorized)
			// Revoking the refresh token ends the session.
			r = s.form("/oauth2/revoke", "", url.Values{"token": {user["refresh_token"].(string)}, "client_id": {"gatehouse"}})
			want(t, r, http.StatusOK)
			if m := introspect(user["refresh_token"].(string)); m["active"] != false {
				t.Fatalf("revoked refresh token still active: %v", m)
			}
			// Unknown tokens: 200 (RFC 7009 §2.2).
			want(t, s.form("/oauth2/revoke", "", url.Values{"token": {"nope"}, "client_id": {"gatehouse"}}), http.StatusOK)
		})
	}
}

// TestPasswordGrantPoolFull covers SPEC §4's bounded hashing pool through
// the binary: a burst beyond its places is refused with 503
// temporarily_unavailable and a Retry-After, never queued without bound and
// never a 500; every sign-in admitted succeeds.
func TestPasswordGrantPoolFull(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_HASH_WORKERS": "1", "GATEHOUSE_HASH_QUEUE": "1",
		"GATEHOUSE_HASH_QUEUE_WAIT": "0"})
	const n = 16
	rs := make([]response, n)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() {
			rs[i] = s.form("/oauth2/token", "", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}})
		})
	}
	wg.Wait()
	refused := 0
	for _, r := range rs {
		switch r.Status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			refused++
			if e := r.JSON(t)["error"]; e != "temporarily_unavailable" {
				t.Errorf("503 error %v, want temporarily_unavailable", e)
			}
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("503 Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	if refused == 0 || refused == n {
		t.Fatalf("%d of %d concurrent sign-ins refused with two places in the pool, want some and not all", refused, n)
	}
}
