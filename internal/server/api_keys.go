package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

// duration is a JSON duration: a string such as "90s", "24h" or "30d", or a
// number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	bad := apperr.Malformed(apperr.CodeMalformedJSON, `durations are strings such as "15m", "24h", "30d", or numbers of seconds`)
	var secs float64
	if err := json.Unmarshal(b, &secs); err == nil {
		if secs < 0 || secs > 10*365*24*3600 {
			return bad
		}
		*d = duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return bad
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return bad
		}
		*d = duration(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return bad
	}
	*d = duration(v)
	return nil
}

type limitJSON struct {
	Limit  int      `json:"limit"`
	Window duration `json:"window"`
}

type keyJSON struct {
	ID             string            `json:"id"`
	Key            string            `json:"key,omitempty"`
	Name           string            `json:"name"`
	Hint           string            `json:"hint"`
	OwnerID        string            `json:"owner_id"`
	Permissions    []string          `json:"permissions"`
	ExpiresAt      *time.Time        `json:"expires_at"`
	RateLimit      *keyLimitJSON     `json:"ratelimit"`
	QuotaRemaining *int64            `json:"quota_remaining"`
	Status         string            `json:"status"`
	Metadata       map[string]string `json:"metadata"`
	CreatedAt      time.Time         `json:"created_at"`
	LastUsedAt     *time.Time        `json:"last_used_at"`
}

type keyLimitJSON struct {
	Limit  int    `json:"limit"`
	Window string `json:"window"`
}

func (s *Server) toKeyJSON(r *http.Request, k *apikey.Key, secret string) keyJSON {
	out := keyJSON{ID: k.ID, Key: secret, Name: k.Name, Hint: k.Hint, OwnerID: k.OwnerID, Permissions: nonNil(k.Permissions),
		ExpiresAt: k.ExpiresAt, QuotaRemaining: k.QuotaRemaining, Status: string(s.keyStatus(r, k)), Metadata: k.Metadata,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if k.RateLimit != nil {
		out.RateLimit = &keyLimitJSON{Limit: k.RateLimit.Limit, Window: k.RateLimit.Window.String()}
	}
	return out
}

// keyStatus is the status a client sees: revoked, expired, suspended (owner
// disabled) or active.
func (s *Server) keyStatus(r *http.Request, k *apikey.Key) apikey.Status {
	active := true
	if u, err := s.users.Get(r.Context(), k.OwnerID); err == nil {
		active = u.Status.CanUseTokens()
	}
	return k.EffectiveStatus(time.Now(), active)
}

type createKeyRequest struct {
	Name        string            `json:"name"`
	Permissions []string          `json:"permissions"`
	ExpiresIn   *duration         `json:"expires_in"`
	RateLimit   *limitJSON        `json:"ratelimit"`
	Quota       *int64            `json:"quota"`
	Prefix      string            `json:"prefix"`
	OwnerID     string            `json:"owner_id"`
	Metadata    map[string]string `json:"metadata"`
}

// keyOwner decides whose keys a request may act on: the caller's own, or
// anyone's with keys:manage.
func (s *Server) keyOwner(r *http.Request, p *rbac.Principal, ownerID string) (string, error) {
	if p.Kind != rbac.KindUser {
		if p.Can(rbac.PermKeysManage) && ownerID != "" {
			return ownerID, nil
		}
		return "", s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "only a user, or a credential with keys:manage naming owner_id, manages API keys"))
	}
	if ownerID == "" || ownerID == p.UserID {
		return p.UserID, nil
	}
	if !p.Can(rbac.PermKeysManage) {
		return "", s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "managing another user's keys needs the keys:manage permission"))
	}
	return ownerID, nil
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	req, err := decode[createKeyRequest](r)
	if err != nil {
		return err
	}
	owner, err := s.keyOwner(r, p, req.OwnerID)
	if err != nil {
		return err
	}
	in := apikey.NewKey{Name: req.Name, OwnerID: owner, Permissions: req.Permissions, Quota: req.Quota, Prefix: req.Prefix, Metadata: req.Metadata}
	if req.ExpiresIn != nil {
		in.ExpiresIn = time.Duration(*req.ExpiresIn)
	}
	if req.RateLimit != nil {
		in.RateLimit = &apikey.Limit{Limit: req.RateLimit.Limit, Window: time.Duration(req.RateLimit.Window)}
	}
	k, secret, err := s.keys.Create(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/keys/"+k.ID)
	encode(w, http.StatusCreated, s.toKeyJSON(r, k, secret))
	return nil
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	owner := r.URL.Query().Get("owner_id")
	if owner == "" && p.Kind == rbac.KindUser && !p.Can(rbac.PermKeysManage) {
		owner = p.UserID
	}
	if owner != "" {
		var err error
		if owner, err = s.keyOwner(r, p, owner); err != nil {
			return err
		}
	} else if !p.Can(rbac.PermKeysManage) {
		return s.deny(r, p, apperr.Forbidden(apperr.CodePermissionDenied, "listing every key needs the keys:manage permission"))
	}
	limit, afterCreated, afterID, err := createdPageParams(r)
	if err != nil {
		return err
	}
	list, err := s.keys.ListPage(r.Context(), apikey.ListQuery{OwnerID: owner, Limit: limit + 1, AfterCreated: afterCreated, AfterID: afterID})
	if err != nil {
		return err
	}
	list, next := nextPage(list, limit, func(k *apikey.Key) string { return createdKey(k.CreatedAt, k.ID) })
	items := make([]keyJSON, 0, len(list))
	for _, k := range list {
		items = append(items, s.toKeyJSON(r, k, ""))
	}
	encode(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

// ownKey loads a key the caller may act on; another user's key is a 404 to
// a caller without keys:manage, so key ids of others are not disclosed.
func (s *Server) ownKey(r *http.Request, p *rbac.Principal) (*apikey.Key, error) {
	k, err := s.keys.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if (p.Kind == rbac.KindUser && k.OwnerID == p.UserID) || p.Can(rbac.PermKeysManage) {
		return k, nil
	}
	return nil, apperr.NotFound("key_not_found", "no such key")
}

func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	k, err := s.ownKey(r, p)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.toKeyJSON(r, k, ""))
	return nil
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	k, err := s.ownKey(r, p)
	if err != nil {
		return err
	}
	if err := s.keys.Revoke(r.Context(), k.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type rotateKeyRequest struct {
	Grace *duration `json:"grace"`
}

func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	k, err := s.ownKey(r, p)
	if err != nil {
		return err
	}
	var req rotateKeyRequest
	if r.ContentLength != 0 {
		if req, err = decode[rotateKeyRequest](r); err != nil {
			return err
		}
	}
	var grace time.Duration
	if req.Grace != nil {
		grace = time.Duration(*req.Grace)
	}
	k, secret, err := s.keys.Rotate(r.Context(), k.ID, grace)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.toKeyJSON(r, k, secret))
	return nil
}

func (s *Server) handleKeyUsage(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	k, err := s.ownKey(r, p)
	if err != nil {
		return err
	}
	u, err := s.keys.Usage(r.Context(), k.ID)
	if err != nil {
		return err
	}
	bucket := func(bs []apikey.UsageBucket) []map[string]any {
		out := make([]map[string]any, 0, len(bs))
		for _, b := range bs {
			m := map[string]any{"start": b.Start.UTC()}
			for k, v := range b.Counts {
				m[k] = v
			}
			out = append(out, m)
		}
		return out
	}
	total := u.Total
	if total == nil {
		total = map[string]int64{}
	}
	encode(w, http.StatusOK, map[string]any{"key_id": k.ID, "total": total, "hourly": bucket(u.Hourly), "daily": bucket(u.Daily)})
	return nil
}

type verifyKeyRequest struct {
	Key         string   `json:"key"`
	Permissions []string `json:"permissions"`
}

type verifyLimitJSON struct {
	Limit     int   `json:"limit"`
	Remaining int   `json:"remaining"`
	Reset     int64 `json:"reset"` // Unix time (seconds) at which the bucket is full again
}

type verifyKeyResponse struct {
	Valid       bool             `json:"valid"`
	Code        string           `json:"code,omitempty"`
	KeyID       string           `json:"key_id,omitempty"`
	OwnerID     string           `json:"owner_id,omitempty"`
	Permissions []string         `json:"permissions,omitempty"`
	RateLimit   *verifyLimitJSON `json:"ratelimit,omitempty"`
}

// handleVerifyKey answers 200 with valid true or false for every
// well-formed request (SPEC Appendix A). Failures are limited per client
// address (RATE_LIMIT_VERIFY_FAILURES_PER_IP): a caller spraying keys gets
// 429 before any more are checked.
func (s *Server) handleVerifyKey() http.Handler {
	return api(func(w http.ResponseWriter, r *http.Request) error {
		req, err := decode[verifyKeyRequest](r)
		if err != nil {
			return err
		}
		if req.Key == "" {
			return apperr.InvalidField("key", "is required")
		}
		if len(req.Permissions) > 64 {
			return apperr.InvalidField("permissions", "at most 64")
		}
		ip := audit.RequestFrom(r.Context()).IP
		if err := s.checkVerifyFailures(r, ip, 0); err != nil {
			s.pacer.hold(r.Context(), err)
			return err
		}
		res, err := s.keys.Verify(r.Context(), req.Key, req.Permissions)
		if err != nil {
			return err
		}
		out := verifyKeyResponse{Valid: res.Valid, Code: res.Code}
		if res.Valid {
			out.KeyID, out.OwnerID, out.Permissions = res.Key.ID, res.Key.OwnerID, nonNil(res.Permissions)
		} else {
			_ = s.checkVerifyFailures(r, ip, 1)
			if s.metrics != nil {
				s.metrics.Denied(routeOf(r))
			}
		}
		if rl := res.RateLimit; rl != nil {
			out.RateLimit = &verifyLimitJSON{Limit: rl.Limit, Remaining: rl.Remaining, Reset: time.Now().Add(rl.Reset).Unix()}
		}
		encode(w, http.StatusOK, out)
		return nil
	})
}

// checkVerifyFailures peeks (n=0) or charges (n=1) the address's bucket of
// failed verifications.
func (s *Server) checkVerifyFailures(r *http.Request, ip string, n int) error {
	if s.verifyFailPerIP.N == 0 || s.limiter == nil {
		return nil
	}
	res, err := s.limiter.Allow(r.Context(), "verify-fail-ip:"+ip, s.verifyFailPerIP, n)
	if err != nil {
		return ratelimit.Check(r.Context(), s.limiter, "verify-fail-ip:"+ip, s.verifyFailPerIP) // maps the error
	}
	if !res.Allowed && n == 0 {
		e := apperr.RateLimited(apperr.CodeRateLimited, res.RetryAfter, "too many failed verifications from this address; retry after the Retry-After header's seconds")
		e.Headers = ratelimit.Headers(res)
		return e
	}
	return nil
}

// keyPrincipal authenticates an API key presented as a Bearer credential.
func (s *Server) keyPrincipal(r *http.Request, raw string) (*rbac.Principal, bool, error) {
	if _, _, err := apikey.Parse(raw); err != nil {
		return nil, false, nil
	}
	res, err := s.keys.Verify(r.Context(), raw, nil)
	if err != nil {
		return nil, true, err
	}
	if !res.Valid {
		if res.Code == "RATE_LIMITED" && res.RateLimit != nil {
			e := apperr.RateLimited(apperr.CodeRateLimited, res.RateLimit.RetryAfter, "this API key is over its rate limit")
			e.Headers = ratelimit.Headers(*res.RateLimit)
			return nil, true, e
		}
		return nil, true, errBadToken.WithCause(apperr.Unauthenticated("api_key_"+strings.ToLower(res.Code), "api key refused"))
	}
	perms := slices.Clone(res.Permissions)
	slices.Sort(perms)
	return &rbac.Principal{Kind: rbac.KindKey, ID: res.Key.ID, UserID: res.Key.OwnerID, Permissions: perms, Scopes: perms}, true, nil
}
