package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/sdk"
)

// Protect an endpoint: only callers holding documents:read — through an
// access token's scope or an API key's permissions — reach the handler.
func ExampleVerifier_Authenticate() {
	g := startGatehouse(exampleTB())
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: g.URL, KeyCacheTTL: 5e9})
	if err != nil {
		log.Fatal(err)
	}
	docs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sdk.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "documents for %d roles", len(p.Roles))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /documents", v.Authenticate(sdk.RequirePermission("documents:read")(docs)))

	for _, credential := range []string{"", g.Login("admin", adminPassword)} {
		r := httptest.NewRequest("GET", "/documents", nil)
		if credential != "" {
			r.Header.Set("Authorization", "Bearer "+credential)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate") != "")
	}
	// Output:
	// 401 true
	// 200 false
}

// Require a role. Gatehouse puts effective roles in tokens, so an admin
// passes RequireRole("reviewer") because admin inherits reviewer.
func ExampleRequireRole() {
	g := startGatehouse(exampleTB())
	v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: g.URL})
	if err != nil {
		log.Fatal(err)
	}
	approve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := v.Authenticate(sdk.RequireRole("reviewer")(approve))

	r := httptest.NewRequest("POST", "/reviews/1/approve", nil)
	r.Header.Set("Authorization", "Bearer "+g.Login("admin", adminPassword))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output: 204
}
