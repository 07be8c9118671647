package sdk_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
)

const adminPassword = apptest.AdminPassword

// gatehouse is a real Gatehouse for the test (internal/apptest).
type gatehouse = apptest.Server

func startGatehouse(tb testing.TB) *gatehouse { return apptest.Start(tb) }

// fixture is a running Gatehouse with an admin, a viewer and the viewer's API key.
type fixture struct {
	*gatehouse
	adminToken, viewerToken, viewerKey string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	g := startGatehouse(tb)
	f := &fixture{gatehouse: g, adminToken: g.Login("admin", adminPassword)}
	const pw = "a long and unusual passphrase"
	g.Call("POST", "/api/v1/users", f.adminToken, map[string]any{"username": "vera", "email": "vera@example.com",
		"display_name": "Vera", "roles": []string{"viewer"}, "password": pw}, http.StatusCreated)
	f.viewerToken = g.Login("vera", pw)
	m := g.Call("POST", "/api/v1/keys", f.viewerToken, map[string]any{"name": "ci", "permissions": []string{"documents:read"}}, http.StatusCreated)
	f.viewerKey, _ = m["key"].(string)
	if f.viewerKey == "" {
		tb.Fatalf("key create answered no key: %v", m)
	}
	return f
}

// countingTransport counts the requests it sends, by URL path.
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
	rt http.RoundTripper
}

func newCounter() *countingTransport {
	return &countingTransport{n: map[string]int{}, rt: http.DefaultTransport}
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.URL.Path]++
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}
