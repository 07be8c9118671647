// Package sdk lets an application protect its HTTP endpoints with Gatehouse.
//
// A [Verifier] discovers a Gatehouse issuer, caches its signing keys (JWKS)
// and verifies access tokens locally (RFC 9068 JWTs); it verifies API keys
// through Gatehouse's verify endpoint, with an optional short cache.
// [Verifier.Authenticate] puts the caller's [Principal] into the request
// context, and [RequireRole], [RequirePermission] and [RequireScope] refuse
// what the principal may not do, answering as RFC 6750 §3 says.
//
// The package imports nothing of Gatehouse's internals and is stable for
// other modules to import.
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxTokenSize is the largest access token the verifier parses (8 KiB).
const MaxTokenSize = 8 << 10

// JWKSRefreshInterval is the least time between two JWKS fetches caused by an
// unknown kid, so tokens with forged kids cannot make the verifier hammer the
// issuer.
const JWKSRefreshInterval = 10 * time.Second

// MaxKeyCacheTTL caps [Config.KeyCacheTTL]: a revoked key stops working within
// this time even when the application caches verifications.
const MaxKeyCacheTTL = 30 * time.Second

const (
	defaultLeeway  = 30 * time.Second
	maxDocBytes    = 1 << 20
	defaultTimeout = 10 * time.Second
)

// DefaultAlgorithms is the algorithm allow-list used when
// [Config.Algorithms] is empty: the signing algorithms Gatehouse offers by
// default.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "PS256"}

// supportedAlgorithms are the asymmetric algorithms a Config may allow;
// "none" and the HMAC family are never accepted (SPEC §13).
var supportedAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

// Config configures a [Verifier].
type Config struct {
	// Issuer is the Gatehouse base URL, the iss of its tokens. Discovery
	// reads Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience is the aud an access token must carry (default: Issuer).
	Audience string
	// Algorithms is the JWS algorithm allow-list (default
	// [DefaultAlgorithms]). "none" and HS* are refused by NewVerifier.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// HTTPClient makes the discovery, JWKS and key-verify requests
	// (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// KeyCacheTTL is how long a positive API-key verification is cached
	// (0 = no cache; values above [MaxKeyCacheTTL] are capped). A cached
	// key skips Gatehouse, so its rate limit, quota and usage are not
	// counted for those calls, and revocation takes effect within this time.
	KeyCacheTTL time.Duration
}

// Verifier verifies Gatehouse access tokens and API keys. It is safe for
// concurrent use; create one per issuer and share it.
type Verifier struct {
	issuer    string
	audience  string
	leeway    time.Duration
	keyTTL    time.Duration
	client    *http.Client
	jwksURI   string
	verifyURI string
	realm     string
	algs      []jose.SignatureAlgorithm

	mu   sync.RWMutex
	keys map[string]jose.JSONWebKey // by kid

	refresh     chan struct{} // a one-slot semaphore around JWKS refetches
	lastRefresh time.Time     // of the last refetch caused by an unknown kid; guarded by refresh

	cacheMu sync.Mutex
	cache   map[[32]byte]cachedKey

	now func() time.Time
}

// NewVerifier validates cfg, fetches the issuer's discovery document and its
// JWKS, and returns a ready Verifier. It fails when the configuration is
// invalid, when the discovery document names another issuer, or when either
// document cannot be fetched or parsed.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	issuer := strings.TrimRight(cfg.Issuer, "/")
	if issuer == "" {
		return nil, errors.New("sdk: Config.Issuer is required")
	}
	v := &Verifier{
		issuer:    issuer,
		audience:  cfg.Audience,
		leeway:    cfg.Leeway,
		keyTTL:    min(cfg.KeyCacheTTL, MaxKeyCacheTTL),
		client:    cfg.HTTPClient,
		verifyURI: issuer + "/api/v1/keys/verify",
		realm:     issuer,
		keys:      map[string]jose.JSONWebKey{},
		refresh:   make(chan struct{}, 1),
		cache:     map[[32]byte]cachedKey{},
		now:       time.Now,
	}
	if v.audience == "" {
		v.audience = issuer
	}
	if v.leeway == 0 {
		v.leeway = defaultLeeway
	}
	if v.leeway < 0 {
		return nil, errors.New("sdk: Config.Leeway must not be negative")
	}
	if v.keyTTL < 0 {
		v.keyTTL = 0
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: defaultTimeout}
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(supportedAlgorithms, a) {
			return nil, fmt.Errorf("sdk: algorithm %q is not allowed (asymmetric algorithms only: %s)", a, strings.Join(supportedAlgorithms, ", "))
		}
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, fmt.Errorf("sdk: discovery: %w", err)
	}
	if strings.TrimRight(disc.Issuer, "/") != issuer {
		return nil, fmt.Errorf("sdk: discovery names issuer %q, want %q", disc.Issuer, issuer)
	}
	if disc.JWKSURI == "" {
		return nil, errors.New("sdk: discovery document has no jwks_uri")
	}
	v.jwksURI = disc.JWKSURI
	if err := v.fetchJWKS(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// getJSON fetches url and decodes its JSON body (at most 1 MiB) into out.
func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxDocBytes)).Decode(out)
}

// fetchJWKS replaces the cached keys with the issuer's current JWKS. Keys
// without a kid, private keys and symmetric keys are ignored.
func (v *Verifier) fetchJWKS(ctx context.Context) error {
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, v.jwksURI, &set); err != nil {
		return fmt.Errorf("sdk: jwks: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.KeyID == "" || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		keys[k.KeyID] = k
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	return nil
}

// key returns the verification key for kid, refetching the JWKS once when
// the kid is unknown and no refetch happened in the last
// [JWKSRefreshInterval]. Concurrent callers wait for a refetch in progress
// rather than starting their own.
func (v *Verifier) key(ctx context.Context, kid string) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	v.mu.RUnlock()
	if ok {
		return k, true
	}
	select {
	case v.refresh <- struct{}{}:
	case <-ctx.Done():
		return jose.JSONWebKey{}, false
	}
	defer func() { <-v.refresh }()
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	if ok {
		return k, true
	}
	now := v.now()
	if !v.lastRefresh.IsZero() && now.Sub(v.lastRefresh) < JWKSRefreshInterval {
		return jose.JSONWebKey{}, false
	}
	v.lastRefresh = now
	if err := v.fetchJWKS(ctx); err != nil {
		return jose.JSONWebKey{}, false // keep the old keys
	}
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	return k, ok
}
