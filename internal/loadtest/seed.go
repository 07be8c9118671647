package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	adminPassword = "correct horse battery staple 7c1f"
	userPassword  = "purple tractor evening river 91ab"
	// loginScope is what the README tour asks for: an ID token comes with
	// every password and refresh grant.
	loginScope = "openid profile"
)

// seed is what the scenarios need, created through the public API.
type seed struct {
	adminToken   string
	clientID     string
	clientSecret string
	basic        string // base64 of client_id:client_secret (form-encoded, RFC 6749 §2.3.1)
	ccToken      string // a client_credentials access token (a JWT) to introspect
	users        []string
}

// api is a small client for seeding: it fails on any unexpected status.
type api struct {
	base string
	c    *http.Client
}

func (a api) do(ctx context.Context, method, path, contentType, bearer, basic string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+basic)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return b, &statusError{method: method, path: path, status: resp.StatusCode, body: string(b)}
	}
	return b, nil
}

type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

func (a api) form(ctx context.Context, path, basic string, v url.Values) ([]byte, error) {
	return a.do(ctx, http.MethodPost, path, "application/x-www-form-urlencoded", "", basic, []byte(v.Encode()), http.StatusOK)
}

func (a api) postJSON(ctx context.Context, path, bearer string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return a.do(ctx, http.MethodPost, path, "application/json", bearer, "", b, http.StatusCreated)
}

// passwordGrant signs in, retrying while the hash pool refuses (503).
func (a api) passwordGrant(ctx context.Context, username, password string) (access, refresh string, err error) {
	v := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {loginScope}}
	for attempt := 0; ; attempt++ {
		b, err := a.form(ctx, "/oauth2/token", "", v)
		if se, ok := err.(*statusError); ok && se.status == http.StatusServiceUnavailable && attempt < 50 {
			select {
			case <-ctx.Done():
				return "", "", ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return "", "", err
		}
		return jsonString(b, "access_token"), jsonString(b, "refresh_token"), nil
	}
}

// seedServer creates, through the API, the admin session, a confidential
// client (client_credentials, tokens:introspect) and its access token, and
// nUsers plain users with a password: one per password-grant worker, since
// Gatehouse's lockout counts an account's in-flight sign-ins as attempts.
func seedServer(ctx context.Context, a api, nUsers int) (*seed, error) {
	s := &seed{}
	var err error
	if s.adminToken, _, err = a.passwordGrant(ctx, "admin", adminPassword); err != nil {
		return nil, fmt.Errorf("admin sign-in: %w", err)
	}
	b, err := a.postJSON(ctx, "/api/v1/clients", s.adminToken, map[string]any{
		"name": "loadtest", "type": "confidential", "grant_types": []string{"client_credentials"},
		"scopes": []string{"tokens:introspect", "documents:read"},
	})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	s.clientID, s.clientSecret = jsonString(b, "client_id"), jsonString(b, "client_secret")
	if s.clientID == "" || s.clientSecret == "" {
		return nil, fmt.Errorf("create client: no client_id or client_secret in %s", b)
	}
	s.basic = base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(s.clientID) + ":" + url.QueryEscape(s.clientSecret)))
	b, err = a.form(ctx, "/oauth2/token", s.basic, url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		return nil, fmt.Errorf("client_credentials grant: %w", err)
	}
	if s.ccToken = jsonString(b, "access_token"); s.ccToken == "" {
		return nil, fmt.Errorf("client_credentials grant: no access_token in %s", b)
	}
	// Two at a time: the hash pool (one worker per CPU) never refuses them.
	s.users = make([]string, nUsers)
	errs := make([]error, nUsers)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range nUsers {
		name := fmt.Sprintf("load%02d", i)
		s.users[i] = name
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = a.postJSON(ctx, "/api/v1/users", s.adminToken, map[string]any{
				"username": name, "email": name + "@example.com", "display_name": "Load " + name, "password": userPassword,
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("create user %s: %w", s.users[i], err)
		}
	}
	return s, nil
}

// sessions signs in n times (users round-robin), two at a time so the hash
// pool never refuses, and returns each session's refresh token.
func sessions(ctx context.Context, a api, users []string, n int) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, rt, err := a.passwordGrant(ctx, users[i%len(users)], userPassword)
			if err == nil && rt == "" {
				err = fmt.Errorf("no refresh_token for %s", users[i%len(users)])
			}
			out[i], errs[i] = rt, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
