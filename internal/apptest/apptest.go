// Package apptest starts a real Gatehouse inside a test of any package of
// this module (the SDK, the examples) and talks to it over HTTP. It is for
// tests only.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
)

// AdminPassword is the bootstrap admin's password in every test server.
const AdminPassword = "correct horse battery staple"

// Server is a real Gatehouse started through app.Run on a free port.
type Server struct {
	URL string
	tb  testing.TB
}

// Start runs Gatehouse until the test ends: SQLite in a temporary
// directory, cheap argon2, MFA and rate limits off.
func Start(tb testing.TB) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	env := map[string]string{
		"GATEHOUSE_LISTEN":                    fmt.Sprintf("127.0.0.1:%d", port),
		"GATEHOUSE_ISSUER":                    fmt.Sprintf("http://127.0.0.1:%d", port),
		"GATEHOUSE_DATA_DIR":                  tb.TempDir(),
		"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD":  AdminPassword,
		"GATEHOUSE_MFA_REQUIRED_ROLES":        "none",
		"GATEHOUSE_HASH_MEMORY_KIB":           "8192",
		"GATEHOUSE_HASH_ITERATIONS":           "1",
		"GATEHOUSE_LOG_LEVEL":                 "error",
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP":   "0",
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "0",
		"GATEHOUSE_RATE_LIMIT_API_PER_IP":     "0",
	}
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- app.Run(ctx, []string{"gatehouse", "serve"}, func(k string) string { return env[k] }, environ,
			app.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			tb.Errorf("gatehouse did not shut down within 30s")
		}
	})
	g := &Server{URL: env["GATEHOUSE_ISSUER"], tb: tb}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		select {
		case code := <-done:
			tb.Fatalf("gatehouse exited with %d before it was ready:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gatehouse not ready after 60s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Call sends a request with an optional Bearer token and JSON or form body,
// fails the test unless the status is want, and decodes the JSON answer.
func (g *Server) Call(method, path, token string, body any, want int) map[string]any {
	g.tb.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			g.tb.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		g.tb.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.tb.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		g.tb.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// Login runs the password grant of the built-in client and returns the access token.
func (g *Server) Login(username, password string) string {
	g.tb.Helper()
	m := g.Call("POST", "/oauth2/token", "", url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}, http.StatusOK)
	return m["access_token"].(string)
}
