package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListsPage: GET /api/v1/keys and GET /api/v1/clients page like the
// users list (SPEC §9, decisions #28): ?limit= and ?cursor=, every page but
// the last full and with a next_cursor, next_cursor null on the last, no
// item twice or missing; ?owner_id= and a non-admin's view of keys (their
// own only) unchanged; a bad limit or cursor is a 422.
func TestListsPage(t *testing.T) {
	s := startServer(t, "sqlite", nil)
	admin := s.admin()
	alice := s.createUser(admin, map[string]any{"username": "alice", "password": ritaPassword, "roles": []string{"viewer"}})["id"].(string)
	bob := s.createUser(admin, map[string]any{"username": "bob", "password": ritaPassword, "roles": []string{"viewer"}})["id"].(string)
	aliceToken := s.login("alice", ritaPassword)["access_token"].(string)
	var created, alices []string
	for i, owner := range []string{alice, bob, alice, alice, bob} {
		r := s.api("POST", "/api/v1/keys", admin, map[string]any{"name": fmt.Sprint("k", i), "owner_id": owner, "permissions": []string{"documents:read"}})
		want(t, r, http.StatusCreated)
		id := r.JSON(t)["id"].(string)
		if created = append(created, id); owner == alice {
			alices = append(alices, id)
		}
	}
	for i := range 4 {
		r := s.api("POST", "/api/v1/clients", admin, map[string]any{"name": fmt.Sprint("app ", i), "type": "public",
			"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://app.example/cb"}, "scopes": []string{"openid"}})
		want(t, r, http.StatusCreated)
	}

	// One page of everything gives the order; smaller pages must cut it
	// into the same pieces.
	allKeys := s.pages(t, admin, "/api/v1/keys?limit=200", "id", 200)[0]
	if d := cmp.Diff(sorted(created), sorted(allKeys)); d != "" {
		t.Fatalf("keys listed (-created +listed):\n%s", d)
	}
	aliceKeys := s.pages(t, aliceToken, "/api/v1/keys?limit=200", "id", 200)[0]
	if d := cmp.Diff(sorted(alices), sorted(aliceKeys)); d != "" {
		t.Fatalf("alice's own keys (-created +listed):\n%s", d)
	}
	allClients := s.pages(t, admin, "/api/v1/clients?limit=200", "client_id", 200)[0]
	if len(allClients) != 5 || allClients[0] != "gatehouse" {
		t.Fatalf("clients %v, want the built-in one first and four more", allClients)
	}
	for _, c := range []struct {
		name, token, path, idField string
		limit                      int
		want                       []string
	}{
		{"admin, every key", admin, "/api/v1/keys?limit=1", "id", 1, allKeys},
		{"admin, every key by 2", admin, "/api/v1/keys?limit=2", "id", 2, allKeys},
		{"admin, alice's keys", admin, "/api/v1/keys?owner_id=" + alice + "&limit=1", "id", 1, aliceKeys},
		{"alice, her own keys", aliceToken, "/api/v1/keys?limit=1", "id", 1, aliceKeys},
		{"alice, owner_id herself", aliceToken, "/api/v1/keys?owner_id=" + alice + "&limit=2", "id", 2, aliceKeys},
		{"admin, keys by the default limit", admin, "/api/v1/keys", "id", 50, allKeys},
		{"clients by 1", admin, "/api/v1/clients?limit=1", "client_id", 1, allClients},
		{"clients by 2", admin, "/api/v1/clients?limit=2", "client_id", 2, allClients},
		{"clients by the default limit", admin, "/api/v1/clients", "client_id", 50, allClients},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(chunk(c.want, c.limit), s.pages(t, c.token, c.path, c.idField, c.limit)); d != "" {
				t.Errorf("pages (-want +got):\n%s", d)
			}
		})
	}

	wantProblem(t, s.api("GET", "/api/v1/keys?owner_id="+bob+"&limit=1", aliceToken, nil), http.StatusForbidden, "permission_denied")
	wantProblem(t, s.api("GET", "/api/v1/clients?limit=1", aliceToken, nil), http.StatusForbidden, "permission_denied")
	for _, list := range []string{"/api/v1/keys", "/api/v1/clients"} {
		for _, q := range []string{"limit=0", "limit=201", "limit=x"} {
			wantProblem(t, s.api("GET", list+"?"+q, admin, nil), http.StatusUnprocessableEntity, "validation_failed")
		}
		// Not base64url; base64url of something no list gave.
		for _, q := range []string{"cursor=!!", "cursor=bm9wZQ"} {
			wantProblem(t, s.api("GET", list+"?"+q, admin, nil), http.StatusUnprocessableEntity, "invalid_cursor")
		}
	}
}

// pages follows path's next_cursor to the end and returns the idField of
// the items of each page. Every page but the last must be full (limit
// items) and carry a next_cursor; the last must carry next_cursor null.
func (s *testServer) pages(t *testing.T, token, path, idField string, limit int) [][]string {
	t.Helper()
	var out [][]string
	target := path
	for len(out) <= 20 {
		r := s.api("GET", target, token, nil)
		want(t, r, http.StatusOK)
		var body struct {
			Items      []map[string]any           `json:"items"`
			NextCursor *string                    `json:"next_cursor"`
			Raw        map[string]json.RawMessage `json:"-"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.Body, &body.Raw); err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, it := range body.Items {
			id, _ := it[idField].(string)
			page = append(page, id)
		}
		out = append(out, page)
		if body.NextCursor == nil {
			if string(body.Raw["next_cursor"]) != "null" {
				t.Fatalf("GET %s: last page without next_cursor null: %s", target, r.Body)
			}
			return out
		}
		if len(page) != limit {
			t.Fatalf("GET %s: %d items and a next_cursor, want %d: %s", target, len(page), limit, r.Body)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target = path + sep + "cursor=" + *body.NextCursor
	}
	t.Fatalf("%s: paging does not end", path)
	return nil
}

// chunk splits ids into pages of n.
func chunk(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return append(out, ids)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
