package app_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestKeyCLI covers `gatehouse key create|list|rotate|revoke` and
// `gatehouse user mfa-reset` against a running server's database.
func TestKeyCLI(t *testing.T) {
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_RATE_LIMIT_VERIFY_FAILURES_PER_IP": "0"})
	s.admin()
	code, out, errOut := s.cli("key", "create", "--owner", "admin", "--permissions", "documents:read", "--prefix", "kx_live", "ci")
	if code != 0 {
		t.Fatalf("key create: %d\n%s%s", code, out, errOut)
	}
	key := regexp.MustCompile(`key: (\S+)`).FindStringSubmatch(out)
	id := regexp.MustCompile(`id:\s+(key_\S+)`).FindStringSubmatch(out)
	if key == nil || id == nil || !strings.HasPrefix(key[1], "kx_live_") {
		t.Fatalf("key create printed:\n%s", out)
	}
	if v := s.verifyKey(key[1], "documents:read"); v["valid"] != true {
		t.Fatalf("verify: %v", v)
	}
	if code, out, _ := s.cli("key", "list"); code != 0 || !strings.Contains(out, id[1]) || strings.Contains(out, key[1]) {
		t.Fatalf("key list: %d\n%s", code, out)
	}
	if code, out, _ := s.cli("key", "create", "--owner", "admin", "--permissions", "nope:nope", "bad"); code != 1 {
		t.Fatalf("a permission the owner lacks must fail: %d\n%s", code, out)
	}
	if code, _, _ := s.cli("key", "revoke", id[1]); code != 0 {
		t.Fatal("key revoke failed")
	}
	eventually(t, func() bool { return s.verifyKey(key[1])["code"] == "REVOKED" })
	if code, _, _ := s.cli("key", "create", "ci"); code != 2 {
		t.Fatal("key create without --owner is a usage error")
	}
	if code, out, errOut := s.cli("user", "mfa-reset", "admin"); code != 0 {
		t.Fatalf("user mfa-reset: %d\n%s%s", code, out, errOut)
	}
	if ev := s.audit(s.freshAdmin(), "action=auth.mfa.reset"); len(ev) != 1 {
		t.Fatalf("want one auth.mfa.reset event, got %d", len(ev))
	}
}
