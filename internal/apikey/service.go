package apikey

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Defaults of Options.
const (
	DefaultCacheTTL   = time.Second
	DefaultFlushEvery = 5 * time.Second
	DefaultCacheSize  = 100_000
	// MaxCacheTTL bounds CacheTTL: SPEC §8 wants a revocation on one
	// instance to reach every other within one second.
	MaxCacheTTL = time.Second
	// MaxGrace bounds a rotation's grace period.
	MaxGrace = 7 * 24 * time.Hour
)

// Options configure a Service.
type Options struct {
	// DefaultPrefix is the prefix of keys created without one ("gk" when "").
	DefaultPrefix string
	// CacheTTL is how long a verified key's record (and its owner's
	// permissions and status) is used before it is read again: the most a
	// change on another instance takes to reach this one. 0 means
	// DefaultCacheTTL; more than MaxCacheTTL is taken as MaxCacheTTL.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached records, found or not
	// (DefaultCacheSize when 0).
	CacheSize int
	// FlushEvery is how often Run writes usage counts, last-used times and
	// quota decrements to the store (DefaultFlushEvery when 0).
	FlushEvery time.Duration
}

// Service manages API keys. It is safe for concurrent use. Every change is
// audited in the transaction that makes it.
type Service struct {
	opts    Options
	store   Store
	owners  Owners
	limiter ratelimit.Limiter
	audit   *audit.Recorder
	now     func() time.Time

	cache *cache
	usage *usageTable
	// count turns usage counting off when false (benchmarks only).
	count bool
	// flushMu serializes Flush with the reads that add unflushed counts
	// (Usage, Get, List), so that no count is seen twice or missed.
	flushMu sync.Mutex
}

// NewService returns a Service. A nil limiter is an in-process one. It
// panics when opts.DefaultPrefix is set but not a valid prefix.
func NewService(opts Options, store Store, owners Owners, limiter ratelimit.Limiter, rec *audit.Recorder) *Service {
	if opts.DefaultPrefix == "" {
		opts.DefaultPrefix = DefaultPrefix
	}
	if !ValidPrefix(opts.DefaultPrefix) {
		panic("apikey: invalid default prefix " + opts.DefaultPrefix)
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	opts.CacheTTL = min(opts.CacheTTL, MaxCacheTTL)
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if limiter == nil {
		limiter = ratelimit.NewMemory(0)
	}
	return &Service{opts: opts, store: store, owners: owners, limiter: limiter, audit: rec,
		// Microseconds: what both engines store, so a response equals a later read.
		now:   func() time.Time { return time.Now().Truncate(time.Microsecond) },
		cache: newCache(opts.CacheSize), usage: newUsageTable(), count: true}
}

// NewKey is the input of Create.
type NewKey struct {
	Name        string
	OwnerID     string
	Permissions []string
	ExpiresIn   time.Duration // 0 for no expiry
	RateLimit   *Limit
	Quota       *int64
	Prefix      string // "" for Options.DefaultPrefix
	Metadata    map[string]string
}

// Create validates in and stores a new key. It returns the key and its
// secret, which is shown this once and never stored. Invalid input, and
// permissions the owner does not hold, are a 422 with per-field errors.
func (s *Service) Create(ctx context.Context, in NewKey) (*Key, string, error) {
	k, err := s.validate(ctx, in)
	if err != nil {
		return nil, "", err
	}
	raw, err := Generate(k.Prefix)
	if err != nil {
		return nil, "", err
	}
	now := s.now().UTC()
	k.ID = secret.RandomID("key")
	k.Hint = Hint(raw)
	k.Hash = secret.Hash(raw)
	k.Status = StatusActive
	k.CreatedAt, k.UpdatedAt = now, now
	if in.ExpiresIn > 0 {
		k.ExpiresAt = new(now.Add(in.ExpiresIn))
	}
	k.QuotaRemaining = clonePtr(k.Quota)
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateKey(ctx, k); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "key.created", Target: keyRef(k.ID), Metadata: keyMeta(k)})
	})
	if err != nil {
		return nil, "", err
	}
	return k, raw, nil
}

// Get returns a key with its unflushed usage applied (LastUsedAt,
// QuotaRemaining); NotFound key_not_found.
func (s *Service) Get(ctx context.Context, id string) (*Key, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	k, err := s.store.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	s.usage.apply(k)
	return k, nil
}

// List returns the keys of ownerID (every key when ""), oldest first, with
// unflushed usage applied.
func (s *Service) List(ctx context.Context, ownerID string) ([]*Key, error) {
	return s.ListPage(ctx, ListQuery{OwnerID: ownerID})
}

// ListPage returns one page of keys, oldest first, with unflushed usage
// applied. The next page is ListQuery{…, AfterCreated: last.CreatedAt,
// AfterID: last.ID}.
func (s *Service) ListPage(ctx context.Context, q ListQuery) ([]*Key, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	l, err := s.store.ListKeys(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, k := range l {
		s.usage.apply(k)
	}
	return l, nil
}

// Revoke revokes the key. This instance stops accepting it at once, every
// other within CacheTTL. Revoking a revoked key changes nothing and records
// nothing. NotFound key_not_found.
func (s *Service) Revoke(ctx context.Context, id string) error {
	var changed bool
	var k *Key
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		k, err = s.store.UpdateKey(ctx, id, func(k *Key) error {
			if k.Status == StatusRevoked {
				return nil
			}
			now := s.now().UTC()
			k.Status, k.RevokedAt, k.UpdatedAt, changed = StatusRevoked, &now, now, true
			return nil
		})
		if err != nil || !changed {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "key.revoked", Target: keyRef(id),
			Metadata: map[string]any{"owner_id": k.OwnerID, "name": k.Name, "hint": k.Hint}})
	})
	if err != nil {
		return err
	}
	s.invalidate(k.Hash, k.PrevHash)
	return nil
}

// Rotate gives the key a new secret, returned this once. The old secret
// keeps working until now+grace (0 ends it at once); a secret rotated out
// earlier stops now. Grace is 0 to MaxGrace. Revoked and expired keys
// cannot be rotated (Conflict key_revoked, key_expired). NotFound
// key_not_found.
func (s *Service) Rotate(ctx context.Context, id string, grace time.Duration) (*Key, string, error) {
	if grace < 0 || grace > MaxGrace {
		return nil, "", apperr.InvalidField("grace", "must be between 0s and 168h (7 days)")
	}
	var raw, oldHash, oldPrev string
	var k *Key
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		k, err = s.store.UpdateKey(ctx, id, func(k *Key) error {
			now := s.now().UTC()
			switch k.EffectiveStatus(now, true) {
			case StatusRevoked:
				return apperr.Conflict(CodeKeyRevoked, "a revoked key cannot be rotated")
			case StatusExpired:
				return apperr.Conflict(CodeKeyExpired, "an expired key cannot be rotated")
			}
			var gerr error
			if raw, gerr = Generate(k.Prefix); gerr != nil {
				return gerr
			}
			oldHash, oldPrev = k.Hash, k.PrevHash
			k.PrevHash, k.PrevExpiresAt = "", nil
			if grace > 0 {
				k.PrevHash, k.PrevExpiresAt = k.Hash, new(now.Add(grace))
			}
			k.Hash, k.Hint, k.UpdatedAt = secret.Hash(raw), Hint(raw), now
			return nil
		})
		if err != nil {
			return err
		}
		meta := map[string]any{"owner_id": k.OwnerID, "hint": k.Hint, "grace": grace.String()}
		if k.PrevExpiresAt != nil {
			meta["previous_expires_at"] = k.PrevExpiresAt.Format(time.RFC3339)
		}
		return s.audit.Record(ctx, audit.Event{Action: "key.rotated", Target: keyRef(id), Metadata: meta})
	})
	if err != nil {
		return nil, "", err
	}
	s.invalidate(oldHash, oldPrev)
	s.flushMu.Lock()
	s.usage.apply(k)
	s.flushMu.Unlock()
	return k, raw, nil
}

// StatusOf returns the key's effective status now, asking Owners whether
// its owner is active (for listings; Verify has its own cached answer).
func (s *Service) StatusOf(ctx context.Context, k *Key) (Status, error) {
	if k.Status == StatusRevoked {
		return StatusRevoked, nil
	}
	_, active, err := s.owners.Owner(ctx, k.OwnerID)
	if err != nil && !apperr.Is(err, apperr.KindNotFound) {
		return "", err
	}
	return k.EffectiveStatus(s.now(), active), nil
}

// invalidate drops the cached records of these hex hashes ("" ignored).
func (s *Service) invalidate(hashes ...string) {
	for _, h := range hashes {
		var sum [32]byte
		if n, err := hex.Decode(sum[:], []byte(h)); err == nil && n == len(sum) {
			s.cache.invalidate(sum)
		}
	}
}

func keyRef(id string) audit.Ref { return audit.Ref{Type: audit.TypeKey, ID: id} }

// keyMeta is the audit metadata of a new key: what it may do, never its
// secret or hash.
func keyMeta(k *Key) map[string]any {
	m := map[string]any{"name": k.Name, "owner_id": k.OwnerID, "permissions": k.Permissions,
		"prefix": k.Prefix, "hint": k.Hint}
	if k.ExpiresAt != nil {
		m["expires_at"] = k.ExpiresAt.Format(time.RFC3339)
	}
	if k.RateLimit != nil {
		m["ratelimit"] = map[string]any{"limit": k.RateLimit.Limit, "window": k.RateLimit.Window.String()}
	}
	if k.Quota != nil {
		m["quota"] = *k.Quota
	}
	return m
}
