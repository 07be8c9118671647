package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nginxConf puts nginx in front of an upstream, asking Gatehouse's
// forward-auth endpoint about every request (auth_request) and passing the
// X-Gatehouse-* answers upstream: the README's snippet, tested.
const nginxConf = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location = /_gatehouse {
      internal;
      proxy_pass %[3]s/api/v1/forward-auth$gatehouse_query;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Authorization $http_authorization;
    }
    location /reviews/ {
      set $gatehouse_query "?permission=reviews:approve";
      auth_request /_gatehouse;
      auth_request_set $gh_user $upstream_http_x_gatehouse_user;
      auth_request_set $gh_roles $upstream_http_x_gatehouse_roles;
      auth_request_set $gh_key $upstream_http_x_gatehouse_key;
      proxy_set_header X-Gatehouse-User $gh_user;
      proxy_set_header X-Gatehouse-Roles $gh_roles;
      proxy_set_header X-Gatehouse-Key $gh_key;
      proxy_pass %[4]s;
    }
    location / {
      set $gatehouse_query "";
      auth_request /_gatehouse;
      auth_request_set $gh_user $upstream_http_x_gatehouse_user;
      auth_request_set $gh_roles $upstream_http_x_gatehouse_roles;
      auth_request_set $gh_key $upstream_http_x_gatehouse_key;
      proxy_set_header X-Gatehouse-User $gh_user;
      proxy_set_header X-Gatehouse-Roles $gh_roles;
      proxy_set_header X-Gatehouse-Key $gh_key;
      proxy_pass %[4]s;
    }
  }
}
`

// TestNginxForwardAuth runs Debian's nginx with auth_request in front of a
// small upstream and checks 401, 403 and 200 and what the upstream receives.
func TestNginxForwardAuth(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx is needed in CI (.ci/run installs nginx-light)")
		}
		t.Skip("nginx not installed")
	}
	s := startServer(t, "sqlite", map[string]string{"GATEHOUSE_RATE_LIMIT_VERIFY_FAILURES_PER_IP": "0"})
	admin := s.admin()
	s.createUser(admin, map[string]any{"username": "vera", "password": ritaPassword, "roles": []string{"viewer"}})
	viewer := s.login("vera", ritaPassword)["access_token"].(string)
	key := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": "proxy", "permissions": []string{"reviews:approve"}}).JSON(t)

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"user": r.Header.Get("X-Gatehouse-User"),
			"roles": r.Header.Get("X-Gatehouse-Roles"), "key": r.Header.Get("X-Gatehouse-Key"), "path": r.URL.Path})
	}))
	defer upstream.Close()

	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port, s.URL, upstream.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf) // #nosec G204 -- test
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start:\n%s", logs)
		}
		time.Sleep(30 * time.Millisecond)
	}
	get := func(path, token string) (int, map[string]string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := get("/documents/1", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token through nginx: %d", code)
	}
	if code, _ := get("/documents/1", "garbage.token.here"); code != http.StatusUnauthorized {
		t.Fatalf("a bad token through nginx: %d", code)
	}
	code, m := get("/documents/1", viewer)
	if code != http.StatusOK || !strings.HasPrefix(m["user"], "usr_") || m["roles"] != "viewer" || m["key"] != "" {
		t.Fatalf("viewer reading: %d %v", code, m)
	}
	if code, _ := get("/reviews/1/approve", viewer); code != http.StatusForbidden {
		t.Fatalf("viewer approving: %d", code)
	}
	code, m = get("/reviews/1/approve", key["key"].(string))
	if code != http.StatusOK || m["key"] != key["id"] || m["user"] == "" {
		t.Fatalf("API key approving: %d %v", code, m)
	}
}
