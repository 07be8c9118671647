package server

import (
	"encoding/json"
	"net/http"
	"strings"
)

// discoveryDocument prepares the OpenID Provider metadata (OIDC Discovery
// 1.0 §3): what this server accepts, as configured. grants are the token
// endpoint's grant types and algs the algorithms of the published signing
// keys (RS256 only where an operator chose it).
func discoveryDocument(issuer string, grants, algs []string) ([]byte, error) {
	base := strings.TrimRight(issuer, "/")
	doc := map[string]any{
		"issuer":                                        issuer,
		"token_endpoint":                                base + "/oauth2/token",
		"jwks_uri":                                      base + "/.well-known/jwks.json",
		"userinfo_endpoint":                             base + "/oauth2/userinfo",
		"revocation_endpoint":                           base + "/oauth2/revoke",
		"introspection_endpoint":                        base + "/oauth2/introspect",
		"grant_types_supported":                         grants,
		"response_types_supported":                      []string{"code"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algs,
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "bearer"},
		"scopes_supported":                              []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                              []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "acr", "sid", "preferred_username", "name", "email", "roles", "groups"},
		"code_challenge_methods_supported":              []string{"S256"},
	}
	return json.Marshal(doc)
}

// handleDiscovery serves the prepared OpenID Provider metadata.
func (s *Server) handleDiscovery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(s.discovery)
	})
}

// handleJWKS serves the prepared key set of the signing keys.
func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(s.oauth.Keys().KeySet().JWKS())
	})
}
