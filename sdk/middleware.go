package sdk

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Principal is the authenticated caller of a request, put into its context
// by [Verifier.Authenticate].
type Principal struct {
	// Subject is the user (or client) id of a token, or the owner id of an
	// API key.
	Subject string
	// Roles are a token's effective roles (hierarchy already expanded by
	// Gatehouse); API keys carry no roles.
	Roles []string
	// Permissions are what the caller may do: a token's permission scopes
	// (Gatehouse's scope is the token's permissions), or a key's effective
	// permissions.
	Permissions []string
	// Scopes are a token's scopes; for an API key, its permissions.
	Scopes []string
	// KeyID is the id of the API key used, empty for a token.
	KeyID string
	// Claims are the verified token claims, nil for an API key.
	Claims *Claims
}

// authState is what Authenticate leaves in the context.
type authState struct {
	p     *Principal
	realm string
}

type ctxKey struct{}

// PrincipalFrom returns the principal [Verifier.Authenticate] put into ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	s, ok := ctx.Value(ctxKey{}).(*authState)
	if !ok || s.p == nil {
		return nil, false
	}
	return s.p, true
}

// WithPrincipal returns a copy of ctx carrying p, for tests of handlers that
// call [PrincipalFrom] or sit behind the Require middleware.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, &authState{p: p})
}

// apiKeyShape is the format of a Gatehouse API key (docs/api-keys.md).
var apiKeyShape = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}(?:_[a-z0-9]{1,16})?_[0-9A-Za-z]{49}$`)

// Authenticate is middleware that requires an Authorization: Bearer
// credential, either a Gatehouse access token (a JWT, two dots) verified
// with [Verifier.VerifyAccessToken] or an API key (<prefix>_<49 base62>)
// verified with [Verifier.VerifyAPIKey], and passes the request on with the
// [Principal] in its context.
//
// Refusals follow RFC 6750 §3: no credential is 401 with
// WWW-Authenticate: Bearer realm="<issuer>"; a bad one is 401 with
// error="invalid_token". A key refused as RATE_LIMITED is 429; Gatehouse
// being unreachable for a key check is 503.
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			refuse(w, v.realm, http.StatusUnauthorized, "", "")
			return
		}
		var p *Principal
		switch {
		case strings.Count(tok, ".") == 2:
			c, err := v.VerifyAccessToken(r.Context(), tok)
			if err != nil {
				refuse(w, v.realm, http.StatusUnauthorized, "invalid_token", "")
				return
			}
			scopes := c.Scopes()
			p = &Principal{Subject: c.Subject, Roles: c.Roles, Permissions: scopes, Scopes: scopes, Claims: c}
		case apiKeyShape.MatchString(tok):
			res, err := v.VerifyAPIKey(r.Context(), tok)
			if err != nil {
				w.Header().Set("Cache-Control", "no-store")
				http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
				return
			}
			if !res.Valid {
				if res.Code == "RATE_LIMITED" {
					w.Header().Set("Cache-Control", "no-store")
					http.Error(w, "rate limited", http.StatusTooManyRequests)
					return
				}
				refuse(w, v.realm, http.StatusUnauthorized, "invalid_token", "")
				return
			}
			p = &Principal{Subject: res.OwnerID, Permissions: res.Permissions, Scopes: res.Permissions, KeyID: res.KeyID}
		default:
			refuse(w, v.realm, http.StatusUnauthorized, "invalid_token", "")
			return
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, &authState{p: p, realm: v.realm})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearer extracts the credential of an RFC 6750 §2.1 Authorization header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// RequireRole is middleware that lets through a principal holding role and
// refuses others: 401 when unauthenticated, 403 with
// error="insufficient_scope" otherwise. It must sit behind
// [Verifier.Authenticate].
//
// It is hierarchy-aware for Gatehouse tokens by construction: Gatehouse puts
// the effective roles, inherited ones included, into the roles claim, so an
// admin's token lists reviewer when admin inherits reviewer and a plain
// membership check is enough. roleHierarchy names further roles that also
// satisfy the requirement (the roles above role), for issuers or settings
// that put only direct roles into tokens. API keys carry no roles and are
// always refused.
func RequireRole(role string, roleHierarchy ...string) func(http.Handler) http.Handler {
	accepted := append([]string{role}, roleHierarchy...)
	return require("", func(p *Principal) bool {
		return slices.ContainsFunc(p.Roles, func(r string) bool { return slices.Contains(accepted, r) })
	})
}

// RequirePermission is middleware that lets through a principal holding
// perm: for a token, perm must be one of its scopes (Gatehouse's scope is
// the token's permissions); for an API key, one of the key's effective
// permissions. Refusals are 401 when unauthenticated and 403 with
// error="insufficient_scope" otherwise. It must sit behind
// [Verifier.Authenticate].
func RequirePermission(perm string) func(http.Handler) http.Handler {
	return require(perm, func(p *Principal) bool { return slices.Contains(p.Permissions, perm) })
}

// RequireScope is middleware that lets through a principal whose scopes
// include scope (for an API key, its permissions). Refusals are 401 when
// unauthenticated and 403 with error="insufficient_scope" and
// scope="<scope>" otherwise. It must sit behind [Verifier.Authenticate].
func RequireScope(scope string) func(http.Handler) http.Handler {
	return require(scope, func(p *Principal) bool { return slices.Contains(p.Scopes, scope) })
}

// require builds a policy middleware; scope, when set, is named in the
// WWW-Authenticate header of a 403 (RFC 6750 §3).
func require(scope string, allow func(*Principal) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := r.Context().Value(ctxKey{}).(*authState)
			if s == nil || s.p == nil {
				refuse(w, "", http.StatusUnauthorized, "", "")
				return
			}
			if !allow(s.p) {
				refuse(w, s.realm, http.StatusForbidden, "insufficient_scope", scope)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// refuse writes an RFC 6750 §3 refusal with a small JSON body.
func refuse(w http.ResponseWriter, realm string, status int, code, scope string) {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	param := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep + k + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`)
		sep = ", "
	}
	param("realm", realm)
	param("error", code)
	param("scope", scope)
	h := w.Header()
	h.Set("WWW-Authenticate", b.String())
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code == "" {
		code = "unauthorized"
	}
	_, _ = w.Write([]byte(`{"error":"` + code + `"}` + "\n"))
}
