// Package apikey holds API keys (SPEC §8): the key format with its checksum,
// creation with permissions bounded by the owner's, rotation with a grace
// period, revocation, per-key rate limits and quotas, usage counting, and
// verification on the hot path.
//
// Verification does no I/O for a key it has seen within the cache TTL: the
// checksum rejects malformed keys without storage, a SHA-256 of the key finds
// a cached record (key, owner's current permissions and status), and rate
// limits, quotas and usage are counted in memory. Usage and quota decrements
// are flushed to the store in batches (Service.Run). Cache entries live at
// most Options.CacheTTL (≤ 1 s), so a revocation or an owner change on any
// instance reaches every instance within that time; the revoking instance
// drops its entry at once.
//
// Rate limits go through the shared ratelimit.Limiter (Redis in a cluster),
// so they hold across instances exactly, at the price of one limiter call
// per verification of a rate-limited key. Quotas are counted in memory per
// instance and written in batches: an instance refuses once its own view
// reaches zero and learns of the others' uses when they flush and it reloads
// the key, so in a cluster a quota can be overrun by at most what the other
// instances accept within one flush interval plus one cache TTL.
package apikey

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// Status is a key's lifecycle state. Only StatusActive and StatusRevoked are
// stored; StatusExpired and StatusSuspended are computed (EffectiveStatus).
type Status string

// The statuses (SPEC §8).
const (
	StatusActive    Status = "active"
	StatusRevoked   Status = "revoked"
	StatusExpired   Status = "expired"   // ExpiresAt has passed
	StatusSuspended Status = "suspended" // the owner is not active (disabled)
)

// Verification codes (SPEC §8). A valid key has no code; usage is counted
// under OutcomeValid or the code.
const (
	NotFound                = "NOT_FOUND"
	Malformed               = "MALFORMED"
	Expired                 = "EXPIRED"
	Revoked                 = "REVOKED"
	Suspended               = "SUSPENDED"
	RateLimited             = "RATE_LIMITED"
	UsageExceeded           = "USAGE_EXCEEDED"
	InsufficientPermissions = "INSUFFICIENT_PERMISSIONS"

	OutcomeValid = "valid"
)

// Stable error codes of this package (apperr Code).
const (
	CodeKeyNotFound  = "key_not_found"
	CodeKeyMalformed = "key_malformed"
	CodeKeyRevoked   = "key_revoked"
	CodeKeyExpired   = "key_expired"
	CodeKeyExists    = "key_exists"
)

// ErrMalformed is returned by Parse for anything that is not a well-formed
// key with a correct checksum.
var ErrMalformed = apperr.Unauthenticated(CodeKeyMalformed, "the API key is malformed")

// Limit is a key's rate limit: Limit requests per Window (a token bucket with
// a burst of Limit, refilled over Window).
type Limit struct {
	Limit  int
	Window time.Duration
}

// Key is an API key as stored. The secret itself is never stored: Hash is
// secret.Hash of it, and the secret is returned only by Create and Rotate.
type Key struct {
	ID             string // key_…
	Name           string
	Prefix         string // e.g. "gk", "kx_live"
	Hint           string // Prefix + "_" + the first 4 characters of the random part
	OwnerID        string // a user id
	Permissions    []string
	Metadata       map[string]string
	ExpiresAt      *time.Time
	RateLimit      *Limit
	Quota          *int64 // initial quota; nil for unlimited
	QuotaRemaining *int64
	Status         Status // stored status: active or revoked
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastUsedAt     *time.Time
	RevokedAt      *time.Time
	Hash           string     // secret.Hash of the current secret
	PrevHash       string     // secret.Hash of the rotated-out secret ("" for none)
	PrevExpiresAt  *time.Time // end of PrevHash's grace period
}

// EffectiveStatus returns the status a client sees at now: revoked, else
// expired when ExpiresAt has passed, else suspended when the owner is not
// active, else active.
func (k *Key) EffectiveStatus(now time.Time, ownerActive bool) Status {
	switch {
	case k.Status == StatusRevoked:
		return StatusRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StatusExpired
	case !ownerActive:
		return StatusSuspended
	}
	return StatusActive
}

// clone returns a deep copy of k.
func (k *Key) clone() *Key {
	c := *k
	c.Permissions = slices.Clone(k.Permissions)
	if k.Metadata != nil {
		c.Metadata = make(map[string]string, len(k.Metadata))
		for n, v := range k.Metadata {
			c.Metadata[n] = v
		}
	}
	c.ExpiresAt = clonePtr(k.ExpiresAt)
	c.RateLimit = clonePtr(k.RateLimit)
	c.Quota = clonePtr(k.Quota)
	c.QuotaRemaining = clonePtr(k.QuotaRemaining)
	c.LastUsedAt = clonePtr(k.LastUsedAt)
	c.RevokedAt = clonePtr(k.RevokedAt)
	c.PrevExpiresAt = clonePtr(k.PrevExpiresAt)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Owners tells a key owner's current effective permissions and whether the
// owner is active (may use credentials). The app implements it with the user
// and rbac services. An owner that does not exist is an apperr NotFound.
type Owners interface {
	Owner(ctx context.Context, ownerID string) (perms []string, active bool, err error)
}

// ListQuery selects keys for listing, oldest first. A page after the first
// starts after the key (AfterCreated, AfterID), the last of the page before.
type ListQuery struct {
	OwnerID      string // "" for every owner
	Limit        int    // 0 or less for no limit
	AfterCreated time.Time
	AfterID      string // "" for the first page
}

// Period is the granularity of a usage bucket.
type Period string

// The usage periods. Buckets start at a whole UTC hour or day.
const (
	PeriodHour Period = "hour"
	PeriodDay  Period = "day"
)

// UsageCount is the number of verifications of one key with one outcome in
// one bucket.
type UsageCount struct {
	Start   time.Time // start of the bucket (UTC)
	Outcome string    // OutcomeValid or a verification code
	N       int64
}

// UsageDelta is what one key accumulated since the last flush.
type UsageDelta struct {
	KeyID string
	// LastUsedAt is the latest valid verification, nil when none.
	LastUsedAt *time.Time
	// QuotaUsed is subtracted from QuotaRemaining (not below 0).
	QuotaUsed int64
	// Counts are hourly counts; the store adds each to its hour bucket and
	// to its day bucket.
	Counts []UsageCount
}

// Store is what the apikey package needs from storage. Errors are
// *apperr.Error: NotFound or Conflict where stated, Unavailable when the
// database cannot answer, else Internal.
type Store interface {
	// InTx runs fn in one transaction carried by the context fn receives;
	// called inside one, it joins it.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	// CreateKey inserts k. NotFound user_not_found when the owner does not
	// exist; Conflict key_exists when the id or hash is taken.
	CreateKey(ctx context.Context, k *Key) error
	// GetKey returns the key; NotFound key_not_found.
	GetKey(ctx context.Context, id string) (*Key, error)
	// GetKeyByHash returns the key whose current hash is hash, or whose
	// previous hash is hash with a grace period ending after now.
	// NotFound key_not_found.
	GetKeyByHash(ctx context.Context, hash string, now time.Time) (*Key, error)
	// ListKeys returns the keys q selects, oldest first (by CreatedAt, ID).
	ListKeys(ctx context.Context, q ListQuery) ([]*Key, error)
	// UpdateKey reads the key under a row lock, applies fn and writes every
	// field back (in the caller's transaction when there is one). fn's error
	// aborts and is returned as is. NotFound key_not_found; Conflict
	// key_exists when the new hash is taken.
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)

	// FlushUsage applies a batch in one transaction: last_used_at (only
	// forward), quota decrements, and hourly and daily counts. Deltas of
	// keys that no longer exist are dropped.
	FlushUsage(ctx context.Context, batch []UsageDelta) error
	// ListUsage returns the key's buckets of period starting at or after
	// since, by start then outcome.
	ListUsage(ctx context.Context, keyID string, p Period, since time.Time) ([]UsageCount, error)
	// UsageTotals returns the key's counts by outcome over every stored day.
	UsageTotals(ctx context.Context, keyID string) (map[string]int64, error)
	// DeleteUsageBefore removes buckets of period p starting before t and
	// returns how many.
	DeleteUsageBefore(ctx context.Context, p Period, t time.Time) (int, error)
}
