package server

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

// parseOAuthForm parses an application/x-www-form-urlencoded body and
// refuses repeated parameters (RFC 6749 §3.2) other than those allowed.
func parseOAuthForm(r *http.Request, multi ...string) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		if strings.Contains(err.Error(), "too large") {
			return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the body is too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, oauth.InvalidRequest("the body is not a valid form")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 && !contains(multi, k) {
			return nil, oauth.InvalidRequest("parameter " + clipField(k) + " is repeated")
		}
	}
	return form, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clientCredentials returns the client id and secret from HTTP Basic
// (RFC 6749 §2.3.1, form-encoded inside) or from the body, not both.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	if u, p, ok := r.BasicAuth(); ok {
		if form.Get("client_secret") != "" {
			return "", "", true, oauth.InvalidRequest("use one client authentication method, not two")
		}
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", true, oauth.InvalidClient("malformed Basic credentials")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return "", "", true, oauth.InvalidRequest("client_id does not match the Basic credentials")
		}
		return id, secret, true, nil
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "basic ") {
		return "", "", true, oauth.InvalidClient("malformed Basic credentials")
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

func (s *Server) handleToken() http.Handler {
	return oauthEndpoint(func(w http.ResponseWriter, r *http.Request) error {
		form, err := parseOAuthForm(r, "resource")
		if err != nil {
			return err
		}
		id, sec, basic, err := clientCredentials(r, form)
		if err != nil {
			return err
		}
		resp, err := s.oauth.Token(r.Context(), oauth.TokenRequest{
			GrantType: form.Get("grant_type"), ClientID: id, ClientSecret: sec, ClientAuthBasic: basic,
			Username: form.Get("username"), Password: form.Get("password"), RefreshToken: form.Get("refresh_token"),
			Scope: form.Get("scope"), Resource: form["resource"], MFAToken: form.Get("mfa_token"),
			OTP: form.Get("otp"), RecoveryCode: form.Get("recovery_code"),
		})
		if err != nil {
			if code := oauth.FromAppErr(err).Code; code == oauth.ErrInvalidClient ||
				(code == oauth.ErrInvalidGrant && form.Get("grant_type") == oauth.GrantRefreshToken) {
				// A refused client secret or refresh token is evidence
				// (SPEC §15); a wrong password is audited as auth.login.
				s.refused(r, code, err)
			}
			s.pacer.hold(r.Context(), err)
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		encode(w, http.StatusOK, resp)
		return nil
	})
}

// refusedClient records a failed client authentication as a refused
// credential; other errors (a store that does not answer) are not evidence.
func (s *Server) refusedClient(r *http.Request, err error) {
	if oauth.FromAppErr(err).Code == oauth.ErrInvalidClient {
		s.refused(r, oauth.ErrInvalidClient, err)
	}
}

// handleRevoke implements RFC 7009: 200 for unknown tokens too.
func (s *Server) handleRevoke() http.Handler {
	return oauthEndpoint(func(w http.ResponseWriter, r *http.Request) error {
		form, err := parseOAuthForm(r)
		if err != nil {
			return err
		}
		id, sec, _, err := clientCredentials(r, form)
		if err != nil {
			return err
		}
		client, err := s.oauth.AuthenticateClient(r.Context(), id, sec, true)
		if err != nil {
			s.refusedClient(r, err)
			return err
		}
		if form.Get("token") == "" {
			return oauth.InvalidRequest("token is required")
		}
		if err := s.oauth.Revoke(r.Context(), client, form.Get("token"), form.Get("token_type_hint")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// handleIntrospect implements RFC 7662. Callers authenticate as a
// confidential client or with a Bearer credential holding tokens:introspect.
func (s *Server) handleIntrospect() http.Handler {
	return oauthEndpoint(func(w http.ResponseWriter, r *http.Request) error {
		form, err := parseOAuthForm(r)
		if err != nil {
			return err
		}
		if _, ok := bearer(r); ok {
			p, err := s.authenticate(r)
			if err != nil {
				s.refused(r, apperr.CodeInvalidToken, err)
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
				return &oauth.Error{Code: oauth.ErrInvalidToken, Description: "the bearer credential is invalid", Status: 401}
			}
			if !p.Can(rbac.PermTokensIntrospect) {
				// RFC 7662 §2.3: a Bearer credential without the privilege
				// gets 401 (Appendix A: anyone else gets 401).
				_ = s.deny(r, p, apperr.Forbidden(apperr.CodeInsufficientScope, "introspection needs tokens:introspect"))
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope", scope="`+rbac.PermTokensIntrospect+`"`)
				return &oauth.Error{Code: oauth.ErrInsufficientScope, Description: "introspection needs the tokens:introspect permission", Status: 401}
			}
		} else {
			id, sec, _, err := clientCredentials(r, form)
			if err != nil {
				return err
			}
			if id == "" {
				return oauth.InvalidClient("authenticate as a confidential client or with a Bearer token holding tokens:introspect")
			}
			c, err := s.oauth.AuthenticateClient(r.Context(), id, sec, false)
			if err == nil && c.Type != oauth.ClientConfidential {
				err = oauth.InvalidClient("introspection needs a confidential client or a Bearer token holding tokens:introspect")
			}
			if err != nil {
				s.refusedClient(r, err)
				return err
			}
		}
		token := form.Get("token")
		if token == "" {
			return oauth.InvalidRequest("token is required")
		}
		out := s.oauth.Introspect(r.Context(), token, form.Get("token_type_hint"))
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
		return nil
	})
}

// handleUserinfo implements OIDC Core §5.3.
func (s *Server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			writeOAuthError(w, r, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "a Bearer access token is required", Status: 401})
			return
		}
		c, err := s.oauth.VerifyAccessToken(raw, nil)
		if err != nil || c.SID == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
			writeOAuthError(w, r, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "the access token is invalid, expired or revoked", Status: 401})
			return
		}
		u, err := s.users.Get(r.Context(), c.Subject)
		if err != nil || !u.Status.CanUseTokens() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
			writeOAuthError(w, r, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "the access token is invalid, expired or revoked", Status: 401})
			return
		}
		out := map[string]any{"sub": u.ID, "preferred_username": u.Username, "name": u.DisplayName,
			"updated_at": u.UpdatedAt.Unix()}
		if u.Email != "" {
			out["email"] = u.Email
			out["email_verified"] = false
		}
		snap, err := s.rbac.Snapshot(r.Context())
		if err == nil {
			roles, _ := snap.Resolve(u.Roles, u.Groups)
			out["roles"], out["groups"] = nonNil(roles), nonNil(u.Groups)
		}
		encode(w, http.StatusOK, out)
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
