package apikey

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// entry is what verification needs of one presented secret, by its SHA-256:
// the key's record and its owner's permissions and status as read at one
// moment, used until freshUntil. Entries are immutable once cached.
type entry struct {
	key         *Key // without hashes; nil when no key has this hash
	current     bool // found by the current hash, else by the previous one
	graceEnd    int64
	expires     int64 // unix nanoseconds; 0 for never
	revoked     bool
	ownerActive bool
	perms       []string // the key's ∩ the owner's, sorted
	rate        ratelimit.Rate
	limitKey    string
	quota       bool
	stats       *keyStats
	freshUntil  int64 // unix nanoseconds
}

const cacheShards = 64 // a power of two

// cache maps SHA-256 sums of presented secrets to entries. It is split into
// shards by the sum's first byte (uniform, as the sums are), each under its
// own RWMutex: a hit takes one shard's read lock, so verifications of
// different keys do not contend and those of one key only share a read lock.
// Each shard holds at most its share of the size bound; a full shard evicts
// stale entries first, else an arbitrary one. Sums of no key are kept apart
// in a smaller map, so a flood of made-up keys cannot evict real ones.
type cache struct {
	perShard, negPerShard int
	shards                [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	m       map[[32]byte]*entry
	neg     map[[32]byte]*entry // entries of no key
	loading map[[32]byte]*loadCall
	// epoch counts invalidations, so a load that raced with one is not cached.
	epoch uint64
	_     [64]byte // keeps neighbouring shards' locks off one cache line
}

// loadCall is one read of the store for a sum that concurrent verifications
// of the same secret wait for, instead of each reading the store.
type loadCall struct {
	done chan struct{}
	e    *entry
	err  error
}

func newCache(size int) *cache {
	c := &cache{perShard: max(size/cacheShards, 1), negPerShard: max(size/4/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*entry)
		c.shards[i].neg = make(map[[32]byte]*entry)
		c.shards[i].loading = make(map[[32]byte]*loadCall)
	}
	return c
}

func (c *cache) shard(sum [32]byte) *cacheShard { return &c.shards[sum[0]&(cacheShards-1)] }

// get returns the fresh entry of sum, or nil.
func (c *cache) get(sum [32]byte, now int64) *entry {
	sh := c.shard(sum)
	sh.mu.RLock()
	e := sh.find(sum)
	sh.mu.RUnlock()
	if e != nil && now < e.freshUntil {
		return e
	}
	return nil
}

// find returns the entry of sum, fresh or not; sh.mu must be held.
func (sh *cacheShard) find(sum [32]byte) *entry {
	if e := sh.m[sum]; e != nil {
		return e
	}
	return sh.neg[sum]
}

// invalidate drops the entry of sum, and any load of the shard in flight
// will not be cached.
func (c *cache) invalidate(sum [32]byte) {
	sh := c.shard(sum)
	sh.mu.Lock()
	delete(sh.m, sum)
	delete(sh.neg, sum)
	sh.epoch++
	sh.mu.Unlock()
}

// put caches e under sum; sh.mu must be held.
func (c *cache) put(sh *cacheShard, sum [32]byte, e *entry, now int64) {
	m, other, bound := sh.m, sh.neg, c.perShard
	if e.key == nil {
		m, other, bound = sh.neg, sh.m, c.negPerShard
	}
	delete(other, sum)
	if _, ok := m[sum]; !ok && len(m) >= bound {
		evict(m, now)
	}
	m[sum] = e
}

// evict drops from m a few stale entries of a random sample, else one
// entry at random.
func evict(m map[[32]byte]*entry, now int64) {
	evicted, seen := 0, 0
	var first [32]byte
	for k, old := range m { // map order is random: a random sample
		if seen == 0 {
			first = k
		}
		seen++
		if old.freshUntil <= now {
			delete(m, k)
			evicted++
		}
		if seen >= 16 {
			break
		}
	}
	if evicted == 0 {
		delete(m, first)
	}
}

// lookup returns the entry of sum: from the cache when fresh, else from
// fetch, once for all concurrent callers of the same sum.
func (c *cache) lookup(ctx context.Context, sum [32]byte, now int64, fetch func(context.Context, [32]byte) (*entry, error)) (*entry, error) {
	if e := c.get(sum, now); e != nil {
		return e, nil
	}
	sh := c.shard(sum)
	for {
		sh.mu.Lock()
		if e := sh.find(sum); e != nil && now < e.freshUntil {
			sh.mu.Unlock()
			return e, nil
		}
		if l := sh.loading[sum]; l != nil {
			sh.mu.Unlock()
			select {
			case <-l.done:
			case <-ctx.Done():
				return nil, apperr.Unavailable(apperr.CodeUnavailable, 0, "the request ended").WithCause(ctx.Err())
			}
			// The loader's own request may have ended; then load ourselves.
			if l.err != nil && ctx.Err() == nil && (errors.Is(l.err, context.Canceled) || errors.Is(l.err, context.DeadlineExceeded)) {
				continue
			}
			return l.e, l.err
		}
		l := &loadCall{done: make(chan struct{})}
		sh.loading[sum] = l
		epoch := sh.epoch
		sh.mu.Unlock()

		l.e, l.err = fetch(ctx, sum)

		sh.mu.Lock()
		delete(sh.loading, sum)
		if l.err == nil && sh.epoch == epoch {
			c.put(sh, sum, l.e, now)
		}
		sh.mu.Unlock()
		close(l.done)
		return l.e, l.err
	}
}

// hexSum is the hex form of a sum, as secret.Hash writes it.
func hexSum(sum [32]byte) string { return hex.EncodeToString(sum[:]) }
