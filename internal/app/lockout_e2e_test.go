package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const ritaPassword = "a long and unusual passphrase"

// loginFrom runs the password grant as if from ip (the test server trusts
// 127.0.0.1 as a proxy, so X-Forwarded-For sets the client address).
func (s *testServer) loginFrom(ip, username, password string) response {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(passwordForm(username, password).Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	return s.send(req)
}

func lockoutServer(t *testing.T, engine string, extra map[string]string) (*testServer, string) {
	t.Helper()
	env := map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "127.0.0.1/32", "GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP": "0", "GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "0"}
	for k, v := range extra {
		env[k] = v
	}
	s := startServer(t, engine, env)
	u := s.createUser(s.admin(), map[string]any{"username": "rita", "password": ritaPassword})
	return s, u["id"].(string)
}

// TestLockout covers SPEC §4: five failures lock the account (even the right
// password is then refused, with the same answer as a wrong one), the lock
// and its reason are audited, and an admin unlock restores access.
func TestLockout(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s, id := lockoutServer(t, engine, nil)
			wrong := s.loginFrom("198.51.100.7", "rita", "not the password at all")
			for i := 0; i < 5; i++ {
				r := s.loginFrom("198.51.100.7", "rita", "not the password at all")
				if i < 4 {
					want(t, r, http.StatusBadRequest)
				}
			}
			right := s.loginFrom("198.51.100.7", "rita", ritaPassword)
			want(t, right, http.StatusBadRequest)
			if string(right.Body) != string(wrong.Body) {
				t.Fatalf("a locked account must answer like a wrong password:\n%s\n%s", right.Body, wrong.Body)
			}
			u := s.api("GET", "/api/v1/users/"+id, s.admin(), nil).JSON(t)
			if u["status"] != "locked" || u["locked_until"] == nil {
				t.Fatalf("user after five failures: %v", u)
			}
			until, err := time.Parse(time.RFC3339, u["locked_until"].(string))
			if err != nil || until.Before(time.Now().Add(10*time.Minute)) {
				t.Fatalf("locked_until %v should be about 15 minutes ahead", u["locked_until"])
			}
			if ev := s.audit(s.admin(), "action=user.locked&target_id="+id); len(ev) != 1 {
				t.Fatalf("want one user.locked event, got %d", len(ev))
			}
			if ev := s.audit(s.admin(), "action=auth.login&outcome=failure&target_id="+id); len(ev) == 0 || ev[0]["reason"] != "locked" {
				t.Fatalf("the refused right password must be audited with reason locked: %v", ev)
			}
			want(t, s.api("POST", "/api/v1/users/"+id+"/unlock", s.admin(), nil), http.StatusOK)
			want(t, s.loginFrom("198.51.100.7", "rita", ritaPassword), http.StatusOK)
			if ev := s.audit(s.admin(), "action=user.unlocked&target_id="+id); len(ev) != 1 {
				t.Fatalf("want one user.unlocked event, got %d", len(ev))
			}
		})
	}
}

// TestLockoutParallel: fifty wrong attempts at once get at most the threshold
// evaluated; the rest are refused as locked without a password check.
func TestLockoutParallel(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			s, id := lockoutServer(t, engine, map[string]string{"GATEHOUSE_HASH_QUEUE": "64"})
			var wg sync.WaitGroup
			for i := 0; i < 50; i++ {
				wg.Go(func() {
					r := s.loginFrom("198.51.100.8", "rita", "wrong password number x")
					if r.Status != http.StatusBadRequest {
						t.Errorf("parallel attempt answered %d: %s", r.Status, r.Body)
					}
				})
			}
			wg.Wait()
			events := s.audit(s.admin(), "action=auth.login&outcome=failure&limit=100&target_id="+id)
			evaluated := 0
			for _, e := range events {
				if e["reason"] == "invalid_credentials" {
					evaluated++
				}
			}
			if len(events) != 50 || evaluated > 5 || evaluated == 0 {
				t.Fatalf("of 50 parallel attempts %d were evaluated (want 1..5), %d audited", evaluated, len(events))
			}
		})
	}
}

// TestLockoutSparesKnownAddresses: failures from an address the owner never
// signed in from cannot lock the owner out of their usual place.
func TestLockoutSparesKnownAddresses(t *testing.T) {
	s, id := lockoutServer(t, "sqlite", nil)
	want(t, s.loginFrom("192.0.2.10", "rita", ritaPassword), http.StatusOK) // the owner's usual place
	for i := 0; i < 6; i++ {
		s.loginFrom("203.0.113.66", "rita", "guessing from far away")
	}
	want(t, s.loginFrom("203.0.113.66", "rita", ritaPassword), http.StatusBadRequest)
	r := s.loginFrom("192.0.2.10", "rita", ritaPassword)
	want(t, r, http.StatusOK)
	// The owner's token works although the account is locked elsewhere.
	want(t, s.api("GET", "/api/v1/me", r.JSON(t)["access_token"].(string), nil), http.StatusOK)
	// Failures at the usual place count on their own and lock it too.
	for i := 0; i < 5; i++ {
		s.loginFrom("192.0.2.10", "rita", "the owner forgot it")
	}
	want(t, s.loginFrom("192.0.2.10", "rita", ritaPassword), http.StatusBadRequest)
	if u := s.api("GET", "/api/v1/users/"+id, s.admin(), nil).JSON(t); u["status"] != "locked" {
		t.Fatalf("status %v", u["status"])
	}
}

// TestLockoutExpires: the lock lifts by itself when its time is up, and a
// success resets the count.
func TestLockoutExpires(t *testing.T) {
	s, id := lockoutServer(t, "sqlite", map[string]string{"GATEHOUSE_LOCKOUT_DURATION": "1s", "GATEHOUSE_LOCKOUT_THRESHOLD": "2"})
	for i := 0; i < 2; i++ {
		s.loginFrom("198.51.100.9", "rita", "wrong wrong wrong")
	}
	want(t, s.loginFrom("198.51.100.9", "rita", ritaPassword), http.StatusBadRequest)
	time.Sleep(1100 * time.Millisecond)
	if u := s.api("GET", "/api/v1/users/"+id, s.admin(), nil).JSON(t); u["status"] != "active" {
		t.Fatalf("after the lock's time the user reads %v", u["status"])
	}
	want(t, s.loginFrom("198.51.100.9", "rita", ritaPassword), http.StatusOK)
	// A success reset the count: one failure does not lock.
	s.loginFrom("198.51.100.9", "rita", "wrong wrong wrong")
	want(t, s.loginFrom("198.51.100.9", "rita", ritaPassword), http.StatusOK)
}
