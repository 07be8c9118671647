package ratelimit

import (
	"container/heap"
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is the bucket bound NewMemory uses when given 0 or less.
const DefaultMaxKeys = 100_000

const (
	maxShards = 64 // a power of two; enough to keep a few dozen cores apart
	// minPerShard keeps small limiters from splitting into tiny shards.
	minPerShard = 16
)

// Memory is an in-process Limiter for a single node. It is safe for concurrent
// use. Buckets are spread over mutex-guarded shards by a seeded hash of the
// key, and each shard keeps its buckets in a min-heap ordered by the time
// they will be full again. Every call first drops the shard's full buckets (a
// missing bucket is a full one, so nothing is lost and idle keys cost no
// memory). Memory never holds more than maxKeys buckets: a shard at its share
// of maxKeys evicts the bucket nearest to full, which loses the least; the
// evicted key starts again with a full burst, so size maxKeys well above the
// number of keys active within one period.
type Memory struct {
	now    func() time.Time
	epoch  time.Time // bucket times are nanoseconds since epoch
	seed   maphash.Seed
	shards []shard
}

// shard is one lock's worth of buckets.
type shard struct {
	mu    sync.Mutex
	byKey map[string]*bucket
	full  byFull
	max   int
	_     [16]byte // pads the shard to 64 bytes, a cache line of its own
}

// bucket is one key's theoretical arrival time, in nanoseconds since
// Memory.epoch, and its place in shard.full.
type bucket struct {
	key   string
	tat   float64
	index int
}

// NewMemory returns a Memory that holds at most maxKeys buckets
// (DefaultMaxKeys when maxKeys is 0 or less), using the wall clock.
func NewMemory(maxKeys int) *Memory {
	return newMemory(maxKeys, time.Now)
}

func newMemory(maxKeys int, now func() time.Time) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	n := maxShards
	for n > 1 && maxKeys/n < minPerShard {
		n /= 2
	}
	m := &Memory{now: now, epoch: now(), seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range m.shards {
		// Rounding down keeps the shards together within maxKeys.
		m.shards[i] = shard{byKey: make(map[string]*bucket), max: max(maxKeys/n, 1)}
	}
	return m
}

// lock returns the key's shard, locked, with its full buckets dropped, and
// the time now.
func (m *Memory) lock(key string) (*shard, float64) {
	mask := uint64(len(m.shards) - 1) // #nosec G115 -- len is a power of two from 1 to 64
	s := &m.shards[maphash.String(m.seed, key)&mask]
	now := float64(m.now().Sub(m.epoch))
	s.mu.Lock()
	s.dropFull(now)
	return s, now
}

// Allow implements Limiter.Allow. It only fails, with ErrInvalid, for calls
// that can never be answered.
func (m *Memory) Allow(_ context.Context, key string, r Rate, n int) (Result, error) {
	if ok, err := check(r, n); !ok {
		return unlimited, err
	}
	s, now := m.lock(key)
	defer s.mu.Unlock()
	b := s.byKey[key]
	old := now
	if b != nil {
		old = b.tat
	}
	tat, res := decide(old, now, r, n)
	if !res.Allowed || n == 0 {
		return res, nil
	}
	if b != nil {
		b.tat = tat
		heap.Fix(&s.full, b.index)
		return res, nil
	}
	if len(s.full) >= s.max {
		evicted := heap.Pop(&s.full).(*bucket)
		delete(s.byKey, evicted.key)
	}
	b = &bucket{key: key, tat: tat}
	s.byKey[key] = b
	heap.Push(&s.full, b)
	return res, nil
}

// Peek implements Limiter.Peek; it fails only with ErrInvalid.
func (m *Memory) Peek(_ context.Context, key string, r Rate) (Result, error) {
	if ok, err := check(r, 0); !ok {
		return unlimited, err
	}
	s, now := m.lock(key)
	old := now
	if b := s.byKey[key]; b != nil {
		old = b.tat
	}
	s.mu.Unlock()
	_, res := decide(old, now, r, 0)
	return res, nil
}

// Reset implements Limiter.Reset; it never fails.
func (m *Memory) Reset(_ context.Context, key string) error {
	s, _ := m.lock(key)
	defer s.mu.Unlock()
	if b := s.byKey[key]; b != nil {
		heap.Remove(&s.full, b.index)
		delete(s.byKey, key)
	}
	return nil
}

// Len reports how many buckets are not full, which is how many Memory holds
// after dropping the full ones: for metrics and tests.
func (m *Memory) Len() int {
	now := float64(m.now().Sub(m.epoch))
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.dropFull(now)
		total += len(s.full)
		s.mu.Unlock()
	}
	return total
}

// dropFull forgets the buckets that are full at now; each bucket is dropped
// once, so this is O(log n) amortized per bucket. The caller holds s.mu.
func (s *shard) dropFull(now float64) {
	for len(s.full) > 0 && s.full[0].tat <= now {
		b := heap.Pop(&s.full).(*bucket)
		delete(s.byKey, b.key)
	}
}

// byFull is a container/heap of buckets, the first to be full on top.
type byFull []*bucket

func (h byFull) Len() int           { return len(h) }
func (h byFull) Less(i, j int) bool { return h[i].tat < h[j].tat }
func (h byFull) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *byFull) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}

func (h *byFull) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return b
}
