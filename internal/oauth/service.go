package oauth

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Options are the token settings of SPEC §2 and §5.
type Options struct {
	Issuer           string
	Audiences        []string // default audience of access tokens; a request may narrow it (RFC 8707)
	AccessTTL        time.Duration
	IDTokenTTL       time.Duration
	RefreshTTL       time.Duration // absolute
	RefreshIdleTTL   time.Duration
	ReuseGrace       time.Duration
	RoleClaims       bool
	PasswordGrant    bool
	MFARequiredRoles []string
	// LoginPerIP and LoginPerUser limit password (and MFA) grants per client
	// address and per username (SPEC §4); the zero Rate is off.
	LoginPerIP   ratelimit.Rate
	LoginPerUser ratelimit.Rate
}

// GrantTypesSupported lists the grant types the token endpoint accepts, as
// the discovery document advertises them: the password grant, and the MFA
// step that continues it, only while GATEHOUSE_PASSWORD_GRANT is on.
func (s *Service) GrantTypesSupported() []string {
	out := []string{GrantRefreshToken, GrantClientCredentials}
	if s.opts.PasswordGrant {
		out = append([]string{GrantPassword}, append(out, GrantMFAOTP)...)
	}
	return out
}

// Service implements the grants, revocation, introspection and sessions.
type Service struct {
	opts        Options
	store       Store
	users       *user.Service
	userStore   user.Store
	rbac        *rbac.Service
	audit       *audit.Recorder
	keys        *KeyManager
	revocations *Revocations
	verified    *verifiedCache
	clients     *clientCache
	limiter     ratelimit.Limiter
	mfa         SecondFactor
	batch       *audit.Batcher
	refusals    *ratelimit.Sampler
	now         func() time.Time

	// IntrospectKey, when set, answers introspection of API keys.
	IntrospectKey func(ctx context.Context, key string) (map[string]any, bool)
}

// Deps are the collaborators of a Service.
type Deps struct {
	Store       Store
	Users       *user.Service
	UserStore   user.Store
	RBAC        *rbac.Service
	Audit       *audit.Recorder
	Keys        *KeyManager
	Revocations *Revocations
	Limiter     ratelimit.Limiter
	MFA         SecondFactor // nil: the MFA grant is unsupported
	// AuditBatch, when set, records events of grants that change no state
	// (client_credentials) in batches.
	AuditBatch *audit.Batcher
}

// NewService wires the OAuth service.
func NewService(opts Options, d Deps) *Service {
	return &Service{opts: opts, store: d.Store, users: d.Users, userStore: d.UserStore, rbac: d.RBAC, audit: d.Audit,
		keys: d.Keys, revocations: d.Revocations, verified: newVerifiedCache(65536),
		clients: &clientCache{store: d.Store, ttl: 5 * time.Second, m: map[string]cachedClient{}},
		limiter: d.Limiter, mfa: d.MFA, batch: d.AuditBatch, refusals: ratelimit.NewSampler(time.Minute, 10000), now: time.Now}
}

// Options returns the token settings.
func (s *Service) Options() Options { return s.opts }

// Keys returns the signing key manager.
func (s *Service) Keys() *KeyManager { return s.keys }

// Revocations returns the deny list.
func (s *Service) Revocations() *Revocations { return s.revocations }

// TokenRequest is a parsed token endpoint request (RFC 6749 §4).
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	// ClientAuthBasic is set when the credentials came in the Authorization header.
	ClientAuthBasic bool
	Username        string
	Password        string
	RefreshToken    string
	Scope           string
	Resource        []string
	MFAToken        string
	OTP             string
	RecoveryCode    string
}

// TokenResponse is the successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"` // always sent, so a client sees what was granted (RFC 6749 §5.1)
	IDToken      string `json:"id_token,omitempty"`
}

// Token runs the grant the request names.
func (s *Service) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	switch req.GrantType {
	case GrantPassword:
		return s.passwordGrant(ctx, req)
	case GrantRefreshToken:
		return s.refreshGrant(ctx, req)
	case GrantClientCredentials:
		return s.clientCredentialsGrant(ctx, req)
	case GrantMFAOTP:
		return s.mfaGrant(ctx, req)
	case "":
		return nil, InvalidRequest("grant_type is required")
	}
	return nil, oerr(400, ErrUnsupportedGrantType, "grant_type "+clip(req.GrantType)+" is not supported")
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s) + "\""
}

// OIDC scopes pass through to the token when requested.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// ParseScope splits a scope parameter and validates each token (RFC 6749 §3.3).
func ParseScope(s string) ([]string, error) {
	if len(s) > 4096 {
		return nil, oerr(400, ErrInvalidScope, "scope is too long")
	}
	fields := strings.Split(s, " ")
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			continue
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, oerr(400, ErrInvalidScope, "scope contains a character RFC 6749 §3.3 does not allow")
			}
		}
		out = append(out, f)
	}
	if len(out) > 128 {
		return nil, oerr(400, ErrInvalidScope, "too many scopes")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// grantScope computes a token's power (SPEC §15): the subject's permissions,
// intersected with the client's allowed scopes, intersected with the
// requested scopes when any were requested. OIDC scopes pass through.
//
// A request that names only OpenID Connect scopes (openid, profile, …) does
// not narrow the permissions: it asks for an ID token on top of the access
// the client may have. To narrow, name permission scopes.
func grantScope(requested, perms, clientScopes []string) []string {
	allowed := rbac.Intersect(perms, clientScopes)
	if len(requested) == 0 {
		return allowed
	}
	out := allowed
	if len(permissionsOf(requested)) > 0 {
		out = rbac.Intersect(allowed, requested)
	}
	for _, r := range requested {
		if slices.Contains(oidcScopes, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// permissionsOf returns the permission scopes of a scope list (OIDC scopes removed).
func permissionsOf(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if !slices.Contains(oidcScopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// audience resolves RFC 8707 resource parameters against the configured audiences.
func (s *Service) audience(resource []string) ([]string, error) {
	if len(resource) == 0 {
		return s.opts.Audiences, nil
	}
	aud := make([]string, 0, len(resource))
	for _, r := range resource {
		if !slices.Contains(s.opts.Audiences, r) {
			return nil, oerr(400, ErrInvalidTarget, "resource "+clip(r)+" is not an audience of this server")
		}
		if !slices.Contains(aud, r) {
			aud = append(aud, r)
		}
	}
	return aud, nil
}

type mintInput struct {
	Subject  string
	ClientID string
	Scopes   []string
	Audience []string
	Roles    []string
	Groups   []string
	AuthTime time.Time
	AMR      []string
	SID      string
	Now      time.Time
}

func (s *Service) mintAccess(in mintInput) (string, error) {
	c := AccessClaims{
		Claims: signing.Claims{Issuer: s.opts.Issuer, Subject: in.Subject, Audience: in.Audience,
			IssuedAt: in.Now.Unix(), NotBefore: in.Now.Unix(), Expiry: in.Now.Add(s.opts.AccessTTL).Unix(),
			ID: secret.Token()[:22]},
		ClientID: in.ClientID, Scope: strings.Join(in.Scopes, " "), AMR: in.AMR, SID: in.SID,
	}
	if !in.AuthTime.IsZero() {
		c.AuthTime = in.AuthTime.Unix()
		c.ACR = acrOf(in.AMR)
	}
	if s.opts.RoleClaims {
		c.Roles, c.Groups = nonNil(in.Roles), nonNil(in.Groups)
	}
	return s.keys.Signer().Sign(c, TypAccessToken)
}

// nonNil returns s, or an empty list for nil (encoded [] instead of left out).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func acrOf(amr []string) string {
	for _, m := range amr {
		if m == "otp" || m == "hwk" {
			return "aal2"
		}
	}
	return "aal1"
}

func (s *Service) mintID(u *user.User, clientID string, sess *Session, now time.Time) (string, error) {
	c := IDClaims{
		Claims: signing.Claims{Issuer: s.opts.Issuer, Subject: u.ID, Audience: signing.Audience{clientID},
			IssuedAt: now.Unix(), Expiry: now.Add(s.opts.IDTokenTTL).Unix()},
		AuthTime: sess.AuthTime.Unix(), AMR: sess.AMR, ACR: acrOf(sess.AMR), SID: sess.ID, AZP: clientID,
	}
	if slices.Contains(sess.Scope, "profile") {
		c.PreferredUsername, c.Name = u.Username, u.DisplayName
	}
	if slices.Contains(sess.Scope, "email") {
		c.Email = u.Email
	}
	return s.keys.Signer().Sign(c, TypIDToken)
}

// requiresMFA reports whether any of the effective roles must use MFA.
func (s *Service) requiresMFA(roles []string) bool {
	for _, r := range s.opts.MFARequiredRoles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// clientCache keeps clients in memory for a few seconds: client
// authentication sits on the hot path of client_credentials and introspection.
type clientCache struct {
	store Store
	ttl   time.Duration
	mu    sync.RWMutex
	m     map[string]cachedClient
}

type cachedClient struct {
	c   *Client
	err error
	at  time.Time
}

func (cc *clientCache) get(ctx context.Context, id string) (*Client, error) {
	cc.mu.RLock()
	e, ok := cc.m[id]
	cc.mu.RUnlock()
	if ok && time.Since(e.at) < cc.ttl {
		return e.c, e.err
	}
	c, err := cc.store.GetClient(ctx, id)
	if err != nil && !apperr.Is(err, apperr.KindNotFound) {
		return nil, err
	}
	cc.mu.Lock()
	if len(cc.m) > 10000 {
		clear(cc.m)
	}
	cc.m[id] = cachedClient{c: c, err: err, at: time.Now()}
	cc.mu.Unlock()
	return c, err
}

func (cc *clientCache) invalidate(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
