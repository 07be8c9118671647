package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

// handleForwardAuth serves reverse proxies (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth): the Bearer credential of the original
// request, a JWT access token or an API key, is checked without a database
// read (signature, audience, expiry and the in-memory deny list; an API key
// through its cached record), then ?role= and ?permission= (each may repeat:
// all are required). 200 carries X-Gatehouse-User, X-Gatehouse-Roles and
// X-Gatehouse-Key (for API keys) for the proxy to pass upstream; 401 or 403
// otherwise, with an RFC 6750 challenge.
func (s *Server) handleForwardAuth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		roles, perms := q["role"], q["permission"]
		if len(roles) > 16 || len(perms) > 16 {
			writeProblem(w, r, apperr.InvalidField("permission", "at most 16 roles and 16 permissions"))
			return
		}
		raw, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			writeProblem(w, r, errNoCredentials)
			return
		}
		var user, key string
		var have, haveRoles []string
		if _, _, err := apikey.Parse(raw); err == nil && s.keys != nil {
			res, err := s.keys.Verify(r.Context(), raw, nil)
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			if !res.Valid {
				s.refused(r, apperr.CodeInvalidToken, errBadToken)
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
				writeProblem(w, r, errBadToken)
				return
			}
			user, key, have = res.Key.OwnerID, res.Key.ID, res.Permissions
		} else {
			c, err := s.oauth.VerifyAccessToken(raw, s.apiAudiences)
			if err != nil {
				s.refused(r, apperr.CodeInvalidToken, errBadToken)
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
				writeProblem(w, r, errBadToken.WithCause(err))
				return
			}
			user, have, haveRoles = c.Subject, c.Scopes(), c.Roles
		}
		for _, role := range roles {
			if !slices.Contains(haveRoles, role) {
				s.forwardDenied(w, r, user, key, "this needs the "+role+" role")
				return
			}
		}
		for _, p := range perms {
			if !slices.Contains(have, p) {
				s.forwardDenied(w, r, user, key, "this needs the "+p+" permission")
				return
			}
		}
		h := w.Header()
		h.Set("X-Gatehouse-User", user)
		h.Set("X-Gatehouse-Roles", strings.Join(haveRoles, ","))
		h.Set("X-Gatehouse-Permissions", strings.Join(have, ","))
		if key != "" {
			h.Set("X-Gatehouse-Key", key)
		}
		w.WriteHeader(http.StatusOK)
	})
}

func (s *Server) forwardDenied(w http.ResponseWriter, r *http.Request, user, key, why string) {
	p := &rbac.Principal{Kind: rbac.KindUser, ID: user}
	if key != "" {
		p = &rbac.Principal{Kind: rbac.KindKey, ID: key}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope"`)
	writeProblem(w, r, s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "%s", why)))
}
