package apikey

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Valid bool
	// Code is "" when valid, else one of the verification codes.
	Code string
	// Key is the key presented, for every code but NOT_FOUND and MALFORMED.
	// It is shared and read-only, has no Hash or PrevHash, and its usage
	// fields (LastUsedAt, QuotaRemaining) are as last read from the store.
	Key *Key
	// Permissions are the key's permissions its owner still holds (sorted;
	// shared and read-only).
	Permissions []string
	// RateLimit is the rate-limit state when the key has a limit and the
	// verification got as far as the limiter.
	RateLimit *ratelimit.Result
}

// Verify checks raw: its form and checksum (MALFORMED, without storage),
// that it is a key (NOT_FOUND; a rotated-out secret after its grace is not),
// the key's status (REVOKED, EXPIRED, SUSPENDED while the owner is not
// active), its rate limit (RATE_LIMITED; every attempt on a live key
// counts), that it holds every permission in required, judged by what its
// owner holds now (INSUFFICIENT_PERMISSIONS), and its quota, which only a
// valid use consumes (USAGE_EXCEEDED). Each verification of a found key is
// counted by outcome.
//
// Secrets are compared only through the SHA-256 of the whole key (a map
// lookup by hash), so the time taken does not depend on how much of a
// secret matches. Verify returns an error only when it cannot decide: the
// store or the limiter is unavailable (apperr Unavailable: answer 503).
func (s *Service) Verify(ctx context.Context, raw string, required []string) (VerifyResult, error) {
	if _, _, err := Parse(raw); err != nil {
		return VerifyResult{Code: Malformed}, nil
	}
	sum := sumKey(raw)
	now := s.now()
	nowN := now.UnixNano()
	e, err := s.cache.lookup(ctx, sum, nowN, s.fetch)
	if err != nil {
		return VerifyResult{}, err
	}
	if e.key == nil || (!e.current && nowN >= e.graceEnd) {
		return VerifyResult{Code: NotFound}, nil
	}
	res := VerifyResult{Key: e.key, Permissions: e.perms}
	o, err := s.judge(ctx, e, nowN, required, &res)
	if err != nil {
		return VerifyResult{}, err
	}
	if o == oValid {
		res.Valid = true
	} else {
		res.Code = outcomes[o]
	}
	if s.count {
		e.stats.countAt(now.Unix()/3600, o)
		if o == oValid {
			e.stats.used(now.UnixMicro())
		}
	}
	return res, nil
}

// judge returns the outcome of a found key; res gets the rate-limit state.
func (s *Service) judge(ctx context.Context, e *entry, now int64, required []string, res *VerifyResult) (int, error) {
	switch {
	case e.revoked:
		return oRevoked, nil
	case e.expires != 0 && now >= e.expires:
		return oExpired, nil
	case !e.ownerActive:
		return oSuspended, nil
	}
	if e.rate.N > 0 {
		r, err := s.limiter.Allow(ctx, e.limitKey, e.rate, 1)
		if errors.Is(err, ratelimit.ErrUnavailable) {
			return 0, apperr.Unavailable(apperr.CodeUnavailable, time.Second, "the rate limiter is unavailable; retry shortly").WithCause(err)
		} else if err != nil {
			return 0, apperr.Internal(err)
		}
		res.RateLimit = &r
		if !r.Allowed {
			return oRateLimited, nil
		}
	}
	for _, p := range required {
		if _, ok := slices.BinarySearch(e.perms, p); !ok {
			return oInsufficient, nil
		}
	}
	if e.quota && !e.stats.takeQuota() {
		return oUsageExceeded, nil
	}
	return oValid, nil
}

// sumKey is the SHA-256 of raw, copied to the stack first so that hashing
// does not allocate (raw is at most MaxLen bytes after Parse).
func sumKey(raw string) [32]byte {
	var buf [MaxLen]byte
	n := copy(buf[:], raw)
	return sha256.Sum256(buf[:n])
}

// fetch reads the key of a sum and its owner from the store: the slow
// path, taken once per CacheTTL per secret in use.
func (s *Service) fetch(ctx context.Context, sum [32]byte) (*entry, error) {
	start := s.now()
	fresh := start.Add(s.opts.CacheTTL).UnixNano()
	hash := hexSum(sum)
	k, err := s.store.GetKeyByHash(ctx, hash, start)
	if apperr.Is(err, apperr.KindNotFound) {
		return &entry{freshUntil: fresh}, nil
	} else if err != nil {
		return nil, err
	}
	perms, active, err := s.owners.Owner(ctx, k.OwnerID)
	if apperr.Is(err, apperr.KindNotFound) {
		perms, active = nil, false // deleted with its keys: treat as suspended until the key is gone
	} else if err != nil {
		return nil, err
	}
	e := &entry{current: k.Hash == hash, revoked: k.Status == StatusRevoked, ownerActive: active,
		perms: intersect(k.Permissions, perms), quota: k.QuotaRemaining != nil,
		stats: s.usage.attach(k, start), freshUntil: fresh}
	if !e.current && k.PrevExpiresAt != nil {
		e.graceEnd = k.PrevExpiresAt.UnixNano()
	}
	if k.ExpiresAt != nil {
		e.expires = k.ExpiresAt.UnixNano()
	}
	if k.RateLimit != nil {
		e.rate = ratelimit.Rate{N: k.RateLimit.Limit, Per: k.RateLimit.Window}
		e.limitKey = "apikey:" + k.ID
	}
	pub := k.clone()
	pub.Hash, pub.PrevHash, pub.PrevExpiresAt = "", "", nil
	e.key = pub
	return e, nil
}
