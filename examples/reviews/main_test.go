package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/sdk"
)

// TestReviewsAgainstGatehouse runs the example API against a real
// Gatehouse: each role gets exactly what the routes say.
func TestReviewsAgainstGatehouse(t *testing.T) {
	g := startGatehouse(t)
	admin := g.Login("admin", adminPassword)
	for _, u := range []struct{ name, role string }{{"vera", "viewer"}, {"rob", "reviewer"}, {"lea", "lead_reviewer"}} {
		g.Call("POST", "/api/v1/users", admin, map[string]any{"username": u.name, "password": "a long and unusual passphrase",
			"roles": []string{u.role}}, http.StatusCreated)
	}
	tokens := map[string]string{"admin": admin}
	for _, n := range []string{"vera", "rob", "lea"} {
		tokens[n] = g.Login(n, "a long and unusual passphrase")
	}
	key := g.Call("POST", "/api/v1/keys", admin, map[string]any{"name": "ci", "permissions": []string{"documents:read"}}, http.StatusCreated)["key"].(string)

	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(NewApp(v))
	defer api.Close()
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, api.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		who, method, path string
		want              int
	}{
		{"", "GET", "/documents", 401},
		{"vera", "GET", "/documents", 200},
		{"key", "GET", "/documents", 200},
		{"vera", "POST", "/documents/1/reviews", 403},
		{"rob", "POST", "/documents/1/reviews", 200},
		{"rob", "POST", "/documents/1/approve", 200},
		{"rob", "POST", "/documents/1/assign?" + url.Values{"to": {"rob"}}.Encode(), 403},
		{"lea", "POST", "/documents/1/assign?to=rob", 200},
		{"lea", "DELETE", "/documents/2", 403},
		{"key", "POST", "/documents/1/reviews", 403},
		{"admin", "DELETE", "/documents/2", 204},
	}
	for _, c := range cases {
		tok := tokens[c.who]
		if c.who == "key" {
			tok = key
		}
		if got := do(c.method, c.path, tok); got != c.want {
			t.Errorf("%s %s as %q: %d, want %d", c.method, c.path, c.who, got, c.want)
		}
	}
}
