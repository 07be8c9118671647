package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/secret"
)

const adminPassword = "correct horse battery staple"

// engines returns the database engines the end-to-end tests run on: SQLite
// always, PostgreSQL when GATEHOUSE_TEST_DATABASE_URL is set (required when
// GATEHOUSE_REQUIRE_POSTGRES=1).
func engines(t *testing.T) []string {
	t.Helper()
	out := []string{"sqlite"}
	if os.Getenv("GATEHOUSE_TEST_DATABASE_URL") != "" {
		out = append(out, "postgres")
	} else if os.Getenv("GATEHOUSE_REQUIRE_POSTGRES") == "1" {
		t.Fatal("GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_DATABASE_URL is unset; point it at a PostgreSQL database")
	}
	return out
}

// freshPostgres creates an empty database for one test and returns its URL.
func freshPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_TEST_DATABASE_URL")
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "gh_e2e_" + strings.ToLower(secret.RandomID("t")[2:18])
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			_ = db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testServer is a real Gatehouse started through app.Run on a free port.
type testServer struct {
	URL     string
	env     map[string]string
	engine  string
	stderr  *syncBuffer
	cancel  context.CancelFunc
	done    chan int
	client  *http.Client
	t       *testing.T
	adminAT string
	// no5xx, when set, fails the test on any answer with a 5xx status:
	// no client mistake may ever produce one (SPEC §9).
	no5xx bool
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

// baseEnv is the configuration of a test server: cheap argon2 parameters so
// the suite stays fast, MFA off unless a test turns it on.
func baseEnv(t *testing.T, engine string) map[string]string {
	t.Helper()
	port := freePort(t)
	env := map[string]string{
		"GATEHOUSE_LISTEN":                   fmt.Sprintf("127.0.0.1:%d", port),
		"GATEHOUSE_ISSUER":                   fmt.Sprintf("http://127.0.0.1:%d", port),
		"GATEHOUSE_DATA_DIR":                 t.TempDir(),
		"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD": adminPassword,
		"GATEHOUSE_MFA_REQUIRED_ROLES":       "none",
		"GATEHOUSE_HASH_MEMORY_KIB":          "8192",
		"GATEHOUSE_HASH_ITERATIONS":          "1",
		"GATEHOUSE_LOG_LEVEL":                "warn",
		// Most tests sign in often from one address; the rate-limit tests
		// turn the limits back on.
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP":   "0",
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "0",
		"GATEHOUSE_RATE_LIMIT_API_PER_IP":     "0",
		// Refusals at once unless a test is about their pacing.
		"GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY": "0",
	}
	if engine == "postgres" {
		env["GATEHOUSE_DATABASE_URL"] = freshPostgres(t)
		env["GATEHOUSE_MASTER_KEY"] = secret.EncodeMasterKey(secret.RandomBytes(32))
	}
	return env
}

func startServer(t *testing.T, engine string, overrides map[string]string) *testServer {
	t.Helper()
	env := baseEnv(t, engine)
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return startWithEnv(t, engine, env)
}

func startWithEnv(t *testing.T, engine string, env map[string]string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{URL: env["GATEHOUSE_ISSUER"], env: env, engine: engine, stderr: &syncBuffer{}, cancel: cancel,
		done: make(chan int, 1), client: &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}, t: t}
	go func() {
		s.done <- app.Run(ctx, []string{"gatehouse", "serve"}, s.getenv, s.environ(), app.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: s.stderr})
	}()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("gatehouse exited with %d before it was ready:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse not ready after 60s:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *testServer) stop() {
	// A connection dialled for a burst of requests but never used is, to
	// the server, one whose first request has not arrived yet: a graceful
	// shutdown waits 5 s for it unless the client closes it first.
	s.client.CloseIdleConnections()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			s.t.Errorf("gatehouse serve exited with %d:\n%s", code, s.stderr.String())
		}
		s.done <- code
	case <-time.After(30 * time.Second):
		s.t.Errorf("gatehouse did not shut down within 30s")
	}
}

func (s *testServer) getenv(k string) string { return s.env[k] }

func (s *testServer) environ() []string {
	out := make([]string, 0, len(s.env))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return out
}

// cli runs another gatehouse command against the same configuration.
func (s *testServer) cli(args ...string) (code int, stdout, stderr string) {
	return s.cliIn("", args...)
}

// cliIn is cli with stdin as the command's standard input.
func (s *testServer) cliIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = app.Run(context.Background(), append([]string{"gatehouse"}, args...), s.getenv, s.environ(),
		app.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %s", r.Status, r.Body)
	}
	return m
}

func (s *testServer) do(method, path, token, contentType string, body io.Reader) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return s.send(req)
}

// send sends a prepared request (custom headers) and reads the answer.
func (s *testServer) send(req *http.Request) response {
	s.t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if s.no5xx && resp.StatusCode >= 500 {
		s.t.Errorf("%s %s answered %d: %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// api sends JSON (v may be a string of raw JSON) with a Bearer token.
func (s *testServer) api(method, path, token string, v any) response {
	s.t.Helper()
	var body io.Reader
	switch x := v.(type) {
	case nil:
	case string:
		body = strings.NewReader(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return s.do(method, path, token, ct, body)
}

// form posts an application/x-www-form-urlencoded body.
func (s *testServer) form(path, token string, v url.Values) response {
	s.t.Helper()
	return s.do("POST", path, token, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
}

// login runs the password grant for the built-in client and returns the token response.
func (s *testServer) login(username, password string, extra ...string) map[string]any {
	s.t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	r := s.form("/oauth2/token", "", v)
	if r.Status != http.StatusOK {
		s.t.Fatalf("login %s: status %d: %s", username, r.Status, r.Body)
	}
	return r.JSON(s.t)
}

// admin returns an access token of the bootstrap admin.
func (s *testServer) admin() string {
	s.t.Helper()
	if s.adminAT == "" {
		s.adminAT = s.login("admin", adminPassword)["access_token"].(string)
	}
	return s.adminAT
}

func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

// wantProblem checks an RFC 9457 problem answer: status, media type, the
// members every problem has, and the stable code. It returns the body.
func wantProblem(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json: %s", ct, r.Body)
	}
	p := r.JSON(t)
	title, _ := p["title"].(string)
	detail, _ := p["detail"].(string)
	if p["status"] != float64(status) || title == "" || detail == "" || p["code"] != code ||
		p["type"] != "https://gatehouse.dev/problems/"+code || p["request_id"] != r.Header.Get("X-Request-Id") {
		t.Fatalf("problem = %s, want status %d code %s and the request id %q", r.Body, status, code, r.Header.Get("X-Request-Id"))
	}
	return p
}

// createUser creates a user as the admin token and returns it.
func (s *testServer) createUser(token string, body map[string]any) map[string]any {
	s.t.Helper()
	r := s.api("POST", "/api/v1/users", token, body)
	want(s.t, r, http.StatusCreated)
	return r.JSON(s.t)
}

// audit returns the items of GET /api/v1/audit?query.
func (s *testServer) audit(token, query string) []map[string]any {
	s.t.Helper()
	r := s.api("GET", "/api/v1/audit?"+query, token, nil)
	want(s.t, r, http.StatusOK)
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		s.t.Fatal(err)
	}
	return page.Items
}

// refresh runs the refresh grant of the built-in client.
func (s *testServer) refresh(token string) response {
	s.t.Helper()
	return s.form("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// passwordForm is the body of a password grant for the built-in client.
func passwordForm(username, password string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
}

// strSlice converts a decoded JSON array of strings.
func strSlice(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// fieldErr returns the per-field message of a problem ("" when none).
func fieldErr(problem map[string]any, field string) string {
	errs, _ := problem["errors"].(map[string]any)
	s, _ := errs[field].(string)
	return s
}

// jwtClaims decodes (without verifying) the payload of a JWT.
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
