// Package server is Gatehouse's HTTP surface: the OAuth 2.0 / OpenID Connect
// endpoints (RFC 6749 errors) and the REST API under /api/v1 (RFC 9457
// problems). Handlers are thin: they decode, call a feature service, encode.
package server

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Metrics receives request observations; nil disables them.
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	Denied(route string)
}

// Reads tracks what a request read so that its answer can wait until that
// data is durable: TrackReads marks a request's context, WaitReads returns
// once every commit its reads could have seen is synced (or fails).
type Reads interface {
	TrackReads(ctx context.Context) context.Context
	WaitReads(ctx context.Context) error
}

// Deps are everything the HTTP surface calls.
type Deps struct {
	Users      *user.Service
	UserStore  user.Store
	RBAC       *rbac.Service
	OAuth      *oauth.Service
	MFA        *mfa.Service
	Keys       *apikey.Service
	Audit      *audit.Recorder
	AuditStore audit.Store

	Issuer           string
	Audiences        []string
	TrustedProxies   []netip.Prefix
	BodyLimit        int64
	MFARequiredRoles []string
	Version          string
	// Ready reports whether the store (and Redis, when used) answer.
	Ready   func(ctx context.Context) error
	Metrics Metrics
	// Reads, when set, holds every answer until what its request read is
	// durable (the store's SQLite commits are visible before they are
	// synced); nil answers at once.
	Reads Reads
	// Limiter enforces APIPerIP on /api/v1 and CredentialPerIP on the
	// credential endpoints outside the token endpoint (activation, password
	// change); the token endpoint's limits live in the oauth service.
	Limiter         ratelimit.Limiter
	APIPerIP        ratelimit.Rate
	CredentialPerIP ratelimit.Rate
	// VerifyFailuresPerIP limits failed POST /api/v1/keys/verify per address.
	VerifyFailuresPerIP ratelimit.Rate
	// RefusalDelay holds the 429 of a credential endpoint (token,
	// activation, password change, key verification failures) this long,
	// or until its Retry-After when sooner; 0 answers at once (pacing.go).
	RefusalDelay time.Duration
}

// Server holds the handlers' dependencies.
type Server struct {
	users           *user.Service
	userStore       user.Store
	rbac            *rbac.Service
	oauth           *oauth.Service
	mfa             *mfa.Service
	keys            *apikey.Service
	audit           *audit.Recorder
	auditStore      audit.Store
	issuer          string
	apiAudiences    []string
	trustedProxies  []netip.Prefix
	bodyLimit       int64
	mfaRoles        []string
	version         string
	ready           func(ctx context.Context) error
	metrics         Metrics
	denials         *ratelimit.Sampler
	limiter         ratelimit.Limiter
	apiPerIP        ratelimit.Rate
	credPerIP       ratelimit.Rate
	verifyFailPerIP ratelimit.Rate
	pacer           *pacer
	discovery       []byte
	reads           Reads
}

// New returns the whole HTTP surface as one handler.
func New(d Deps) (http.Handler, error) {
	s := &Server{users: d.Users, userStore: d.UserStore, rbac: d.RBAC, oauth: d.OAuth, mfa: d.MFA, keys: d.Keys, audit: d.Audit, auditStore: d.AuditStore,
		issuer: d.Issuer, apiAudiences: append([]string{d.Issuer}, d.Audiences...), trustedProxies: d.TrustedProxies,
		bodyLimit: d.BodyLimit, mfaRoles: d.MFARequiredRoles, version: d.Version, ready: d.Ready, metrics: d.Metrics,
		denials: ratelimit.NewSampler(10*time.Second, 10000),
		limiter: d.Limiter, apiPerIP: d.APIPerIP, credPerIP: d.CredentialPerIP, verifyFailPerIP: d.VerifyFailuresPerIP,
		pacer: newPacer(d.RefusalDelay), reads: d.Reads}
	if s.bodyLimit <= 0 {
		s.bodyLimit = 64 << 10
	}
	var err error
	var grants, algs []string
	if d.OAuth != nil {
		grants, algs = d.OAuth.GrantTypesSupported(), d.OAuth.Keys().KeySet().Algorithms()
	}
	if s.discovery, err = discoveryDocument(d.Issuer, grants, algs); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	s.routes(mux)
	return s.base(mux), nil
}
