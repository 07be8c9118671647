package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/user"
)

// bearer extracts the token of an "Authorization: Bearer …" header (RFC 6750 §2.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	if t == "" || strings.ContainsAny(t, " \t\r\n") {
		return "", false
	}
	return t, true
}

var (
	errNoCredentials = apperr.Unauthenticated(apperr.CodeUnauthenticated, "authentication required: send Authorization: Bearer <access token or API key>")
	errBadToken      = apperr.Unauthenticated(apperr.CodeInvalidToken, "the access token is invalid, expired or revoked")
)

// authenticate resolves the request's Bearer credential into a Principal.
// allow lists the limited principals (one-step tokens) this route accepts.
func (s *Server) authenticate(r *http.Request, allow ...string) (*rbac.Principal, error) {
	raw, ok := bearer(r)
	if !ok {
		return nil, errNoCredentials
	}
	ctx := r.Context()
	if strings.Count(raw, ".") == 2 {
		return s.principalFromJWT(ctx, raw)
	}
	if s.keys != nil {
		if p, ok, err := s.keyPrincipal(r, raw); ok || err != nil {
			return p, err
		}
	}
	for _, limit := range allow {
		if p, err := s.limitedPrincipal(ctx, raw, limit); err == nil {
			return p, nil
		}
	}
	return nil, errBadToken
}

func (s *Server) principalFromJWT(ctx context.Context, raw string) (*rbac.Principal, error) {
	c, err := s.oauth.VerifyAccessToken(raw, s.apiAudiences)
	if err != nil {
		return nil, errBadToken.WithCause(err)
	}
	p := &rbac.Principal{ClientID: c.ClientID, Scopes: c.Scopes(), AMR: c.AMR, SessionID: c.SID, TokenID: c.ID}
	if c.AuthTime != 0 {
		p.AuthTime = time.Unix(c.AuthTime, 0)
	}
	if c.SID == "" && c.Subject == c.ClientID { // client_credentials
		p.Kind, p.ID = rbac.KindClient, c.ClientID
		p.Permissions = sortedCopy(c.Scopes())
		return p, nil
	}
	u, err := s.users.Get(ctx, c.Subject)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	if !u.Status.CanUseTokens() {
		return nil, errBadToken
	}
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	roles, perms := snap.Resolve(u.Roles, u.Groups)
	p.Kind, p.ID, p.UserID, p.Roles, p.Groups = rbac.KindUser, u.ID, u.ID, roles, u.Groups
	// SPEC §15: the token's power is what the user may do now, intersected
	// with the scopes the token carries.
	p.Permissions = rbac.Intersect(perms, c.Scopes())
	return p, nil
}

func (s *Server) limitedPrincipal(ctx context.Context, raw, limit string) (*rbac.Principal, error) {
	kind := user.TokenPasswordChange
	if limit == rbac.LimitMFAEnrollment {
		kind = user.TokenMFAEnrollment
	}
	t, err := s.userStore.GetOneTimeToken(ctx, secret.Hash(raw), kind, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	return &rbac.Principal{Kind: rbac.KindUser, ID: t.UserID, UserID: t.UserID, ClientID: t.ClientID, Limit: limit,
		TokenID: t.Hash}, nil
}

func sortedCopy(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// authed wraps a REST handler that needs an authenticated principal holding
// perm ("" for any authenticated principal). Limited principals are refused
// unless listed in allow. A refusal is a 401 or a 403 problem; every 403 is
// counted and audited as access.denied.
func (s *Server) authed(perm string, fn func(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error, allow ...string) http.Handler {
	return api(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r, allow...)
		if err != nil {
			if apperr.CodeOf(err) == apperr.CodeInvalidToken {
				s.refused(r, apperr.CodeInvalidToken, err)
			}
			return err
		}
		ctx := rbac.WithPrincipal(r.Context(), p)
		ctx = audit.WithActor(ctx, actorRef(p))
		r = r.WithContext(ctx)
		if p.Limit != "" && !slices.Contains(allow, p.Limit) {
			return s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "this token only serves to finish signing in"))
		}
		if perm != "" {
			if !slices.Contains(p.Permissions, perm) {
				if p.Kind == rbac.KindUser && s.userHasPermission(ctx, p, perm) {
					// The user may, the token may not: RFC 6750 §3.1 names
					// the scope a new token must carry.
					e := apperr.Forbidden(apperr.CodeInsufficientScope, "this needs the %s permission", perm)
					e.Headers = map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse", error="insufficient_scope", scope="` + perm + `"`}
					return s.deny(r, p, e)
				}
				return s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "this needs the %s permission", perm))
			}
			if p.Kind == rbac.KindUser && s.mfaRequired(p.Roles) && !p.HasFactor() && p.Limit == "" {
				return s.deny(r, p, apperr.Forbidden(apperr.CodeMFARequired, "this account must sign in with a second factor for admin routes"))
			}
		}
		// A 403 the handler itself decided (a credential of the wrong kind,
		// another user's resource) is evidence too (SPEC §15).
		err = fn(w, r, p)
		var recorded deniedError
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.KindForbidden && !errors.As(err, &recorded) {
			return s.deny(r, p, ae)
		}
		return err
	})
}

// deniedError is a 403 that deny has already counted and audited.
type deniedError struct{ err *apperr.Error }

func (e deniedError) Error() string { return e.err.Error() }
func (e deniedError) Unwrap() error { return e.err }

func (s *Server) userHasPermission(ctx context.Context, p *rbac.Principal, perm string) bool {
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return false
	}
	u, err := s.users.Get(ctx, p.UserID)
	if err != nil {
		return false
	}
	_, perms := snap.Resolve(u.Roles, u.Groups)
	return slices.Contains(perms, perm)
}

func (s *Server) mfaRequired(roles []string) bool {
	for _, r := range s.mfaRoles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

func actorRef(p *rbac.Principal) audit.Ref {
	switch p.Kind {
	case rbac.KindClient:
		return audit.Ref{Type: audit.TypeClient, ID: p.ID}
	case rbac.KindKey:
		return audit.Ref{Type: audit.TypeKey, ID: p.ID}
	}
	return audit.Ref{Type: audit.TypeUser, ID: p.ID}
}

// deny records an access.denied event (at most one per actor per interval,
// so denials cannot flood the log) and returns err, marked as recorded.
func (s *Server) deny(r *http.Request, p *rbac.Principal, err *apperr.Error) error {
	if s.metrics != nil {
		s.metrics.Denied(routeOf(r))
	}
	actor := actorRef(p)
	if s.denials.Allow(actor.Type+":"+actor.ID, time.Now()) {
		ev := audit.Event{Action: "access.denied", Actor: actor, Target: audit.Ref{Type: "route", ID: routeID(r)},
			Outcome: audit.OutcomeDenied, Reason: err.Code}
		if rerr := s.audit.Record(r.Context(), ev); rerr != nil && !errors.Is(rerr, context.Canceled) {
			return rerr
		}
	}
	return deniedError{err: err}
}

// refused records a refused credential as access.denied with reason (the
// error code: invalid_token, invalid_client, invalid_grant), at most once
// per client IP per interval (the actor is unknown: the credential was not
// valid).
func (s *Server) refused(r *http.Request, reason string, err error) {
	if s.metrics != nil {
		s.metrics.Denied(routeOf(r))
	}
	ip := audit.RequestFrom(r.Context()).IP
	if !s.denials.Allow("ip:"+ip, time.Now()) {
		return
	}
	ev := audit.Event{Action: "access.denied", Actor: audit.Ref{Type: "anonymous", ID: ip},
		Target: audit.Ref{Type: "route", ID: routeID(r)}, Outcome: audit.OutcomeDenied, Reason: reason}
	if rerr := s.audit.Record(r.Context(), ev); rerr != nil {
		slog.WarnContext(r.Context(), "recording a refused credential failed", "err", rerr, "refused", err)
	}
}

// routeID names the route of r as "METHOD /pattern" for audit targets;
// patterns registered with a method already carry it.
func routeID(r *http.Request) string {
	if p := routeOf(r); !strings.HasPrefix(p, r.Method+" ") {
		return r.Method + " " + p
	}
	return routeOf(r)
}
