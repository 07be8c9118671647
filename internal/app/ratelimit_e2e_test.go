package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// limiterBackends returns the rate-limiter backends to test: in-process
// always, Redis when GATEHOUSE_TEST_REDIS_URL is set (required when
// GATEHOUSE_REQUIRE_REDIS=1). The value is the env a server needs.
func limiterBackends(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{"memory": {}}
	if u := os.Getenv("GATEHOUSE_TEST_REDIS_URL"); u != "" {
		out["redis"] = map[string]string{"GATEHOUSE_REDIS_URL": u, "GATEHOUSE_REDIS_PREFIX": "ghtest:" + secret.RandomID("t") + ":"}
	} else if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
		t.Fatal("GATEHOUSE_REQUIRE_REDIS=1 but GATEHOUSE_TEST_REDIS_URL is unset; point it at a Redis server")
	}
	return out
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func wantRateLimited(t *testing.T, r response, limit int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if got := r.Header.Get("RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("RateLimit-Limit %q, want %d", got, limit)
	}
	if got := r.Header.Get("RateLimit-Remaining"); got != "0" {
		t.Errorf("RateLimit-Remaining %q, want 0", got)
	}
	if n, err := strconv.Atoi(r.Header.Get("RateLimit-Reset")); err != nil || n < 1 {
		t.Errorf("RateLimit-Reset %q", r.Header.Get("RateLimit-Reset"))
	}
}

// TestRateLimits covers SPEC §4 and Appendix A on both backends: per
// username (not bypassed by changing case or width), per client address (not
// bypassed by a spoofed X-Forwarded-For from an untrusted peer), and per
// address on the API, each refusal a 429 with Retry-After and RateLimit-*.
func TestRateLimits(t *testing.T) {
	for name, backend := range limiterBackends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("per username", func(t *testing.T) {
				s := startServer(t, "sqlite", merge(backend, map[string]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "3/1m",
					"GATEHOUSE_TRUSTED_PROXIES": "127.0.0.1/32"}))
				admin := s.admin()
				s.createUser(admin, map[string]any{"username": "rita", "password": ritaPassword})
				for i := 0; i < 2; i++ { // the admin's sign-in took none of rita's tokens
					want(t, s.loginFrom(fmt.Sprintf("198.51.100.%d", i+1), "rita", "wrong guess number one"), http.StatusBadRequest)
				}
				want(t, s.loginFrom("198.51.100.3", "Rita", "wrong guess number two"), http.StatusBadRequest)
				for _, variant := range []string{"rita", "RITA", "ｒｉｔａ"} {
					r := s.loginFrom("198.51.100.9", variant, ritaPassword)
					wantRateLimited(t, r, 3)
					if e := r.JSON(t)["error"]; e != "slow_down" {
						t.Errorf("error %v", e)
					}
				}
				if ev := s.audit(admin, "action=auth.login&outcome=failure"); len(ev) == 0 || ev[0]["reason"] != "rate_limited" {
					t.Fatalf("a refused sign-in must be audited as rate_limited: %v", ev)
				}
			})
			t.Run("per address", func(t *testing.T) {
				const delay = 300 * time.Millisecond
				s := startServer(t, "sqlite", merge(backend, map[string]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP": "4/1m",
					"GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY": delay.String()}))
				s.admin() // one token of 127.0.0.1
				for i := 0; i < 3; i++ {
					want(t, s.loginFrom("", fmt.Sprintf("nobody%d", i), "whatever password"), http.StatusBadRequest)
				}
				// The refusal is held before it is sent (pacing), not queued:
				// the same 429, later.
				start := time.Now()
				wantRateLimited(t, s.loginFrom("", "someone", "whatever password"), 4)
				if waited := time.Since(start); waited < delay {
					t.Fatalf("429 after %v, want it held %v (GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY)", waited, delay)
				}
				// No trusted proxies: a forged X-Forwarded-For changes nothing.
				wantRateLimited(t, s.loginFrom("203.0.113.5", "someone", "whatever password"), 4)
			})
			t.Run("API per address", func(t *testing.T) {
				s := startServer(t, "sqlite", merge(backend, map[string]string{"GATEHOUSE_RATE_LIMIT_API_PER_IP": "3/1m"}))
				admin := s.admin()
				for i := 0; i < 3; i++ {
					want(t, s.api("GET", "/api/v1/me", admin, nil), http.StatusOK)
				}
				r := s.api("GET", "/api/v1/me", admin, nil)
				wantRateLimited(t, r, 3)
				if r.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("content type %q", r.Header.Get("Content-Type"))
				}
				// Discovery and the token endpoint are not the API.
				want(t, s.do("GET", "/.well-known/jwks.json", "", "", nil), http.StatusOK)
			})
		})
	}
}

// TestRateLimitSharedAcrossInstances: two instances on one Redis share buckets.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	backend, ok := limiterBackends(t)["redis"]
	if !ok {
		t.Skip("GATEHOUSE_TEST_REDIS_URL is unset")
	}
	env := merge(backend, map[string]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "4/1m"})
	a, b := startServer(t, "sqlite", env), startServer(t, "sqlite", env)
	for i := 0; i < 2; i++ {
		want(t, a.loginForm("ghost", "some password here"), http.StatusBadRequest)
		want(t, b.loginForm("ghost", "some password here"), http.StatusBadRequest)
	}
	wantRateLimited(t, a.loginForm("ghost", "some password here"), 4)
	wantRateLimited(t, b.loginForm("GHOST", "some password here"), 4)
}

// TestRateLimiterFailsClosed: when Redis goes away, sign-ins answer 503,
// never a token, and /readyz says not ready.
func TestRateLimiterFailsClosed(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is needed in CI")
		}
		t.Skip("redis-server not installed")
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no") // #nosec G204 -- test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	var s *testServer
	for i := 0; ; i++ { // wait for our redis-server to accept connections
		if c, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "ping").Output(); err == nil && strings.TrimSpace(string(c)) == "PONG" {
			break
		}
		if i > 100 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s = startServer(t, "sqlite", map[string]string{"GATEHOUSE_REDIS_URL": url, "GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP": "100/1m"})
	s.admin()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	r := s.loginForm("admin", adminPassword)
	if r.Status != http.StatusServiceUnavailable || strings.Contains(string(r.Body), "access_token") {
		t.Fatalf("with Redis gone the token endpoint answered %d: %s", r.Status, r.Body)
	}
	want(t, s.do("GET", "/readyz", "", "", nil), http.StatusServiceUnavailable)
}
