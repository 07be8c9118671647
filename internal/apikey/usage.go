package apikey

import (
	"sync"
	"sync/atomic"
	"time"
)

// outcomes are the results counted per key, by index.
var outcomes = [...]string{OutcomeValid, Expired, Revoked, Suspended, RateLimited, UsageExceeded, InsufficientPermissions}

const (
	oValid = iota
	oExpired
	oRevoked
	oSuspended
	oRateLimited
	oUsageExceeded
	oInsufficient
	nOutcomes
)

// statsIdle is how long a key's counters stay in memory without use once
// they are flushed.
const statsIdle = 2 * time.Minute

// slot counts one UTC hour's verifications of a key by outcome.
type slot struct {
	hour atomic.Int64 // unix hour; 0 before first use
	n    [nOutcomes]atomic.Int64
}

// keyStats are one key's in-memory usage counters and quota. The hot path
// only does atomic operations on them. Two slots, for this hour and the
// previous one, are taken by the parity of the hour, so a flush sees each
// count with the hour it belongs to; a slot reused for a new hour first
// moves its unflushed counts to spill (under mu, once per hour).
type keyStats struct {
	id    string
	slots [2]slot
	// last is the unix microsecond of the latest valid verification not
	// yet flushed (0 for none).
	last atomic.Int64

	// The quota as this instance knows it: the stored remaining less this
	// instance's uses that are not yet flushed (pending) or being flushed
	// (inflight).
	remaining atomic.Int64
	pending   atomic.Int64
	inflight  atomic.Int64

	mu    sync.Mutex
	spill []UsageCount // counts moved out of a reused slot or back from a failed flush

	touched time.Time // guarded by usageTable.mu
}

// countAt counts one verification with outcome o at unix hour h.
func (st *keyStats) countAt(h int64, o int) {
	sl := &st.slots[h&1]
	if sl.hour.Load() != h {
		st.rollover(sl, h)
	}
	sl.n[o].Add(1)
}

// rollover gives sl to hour h, moving its counts of an earlier hour to spill.
func (st *keyStats) rollover(sl *slot, h int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	old := sl.hour.Load()
	if old >= h { // taken already, or a caller with an older clock: count it there
		return
	}
	if old != 0 {
		for o := range sl.n {
			if v := sl.n[o].Swap(0); v != 0 {
				st.addSpill(UsageCount{Start: hourStart(old), Outcome: outcomes[o], N: v})
			}
		}
	}
	sl.hour.Store(h)
}

// addSpill merges c into spill; st.mu must be held.
func (st *keyStats) addSpill(c UsageCount) {
	for i := range st.spill {
		if st.spill[i].Start.Equal(c.Start) && st.spill[i].Outcome == c.Outcome {
			st.spill[i].N += c.N
			return
		}
	}
	st.spill = append(st.spill, c)
}

// used records a valid verification at unix microsecond us. It writes at
// most once a millisecond, so that a hot key's verifications mostly only
// read the shared word (last_used_at is kept to the millisecond).
func (st *keyStats) used(us int64) {
	if us-st.last.Load() >= 1000 {
		st.last.Store(us)
	}
}

// takeQuota takes one use of the quota; false when none is left.
func (st *keyStats) takeQuota() bool {
	for {
		r := st.remaining.Load()
		if r <= 0 {
			return false
		}
		if st.remaining.CompareAndSwap(r, r-1) {
			st.pending.Add(1)
			return true
		}
	}
}

// unflushed returns the counts not yet written (slots and spill); st.mu held.
func (st *keyStats) unflushed() []UsageCount {
	out := append([]UsageCount(nil), st.spill...)
	for i := range st.slots {
		sl := &st.slots[i]
		h := sl.hour.Load()
		for o := range sl.n {
			if v := sl.n[o].Load(); v != 0 {
				out = append(out, UsageCount{Start: hourStart(h), Outcome: outcomes[o], N: v})
			}
		}
	}
	return out
}

func hourStart(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// usageTable holds the keyStats of keys verified recently, by key id. Its
// lock is taken when a key's record is (re)loaded and by flushes, never per
// verification.
type usageTable struct {
	mu sync.Mutex
	m  map[string]*keyStats
}

func newUsageTable() *usageTable { return &usageTable{m: make(map[string]*keyStats)} }

// attach returns the key's stats, made when missing, with the quota set
// from the stored record k.
func (u *usageTable) attach(k *Key, now time.Time) *keyStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.m[k.ID]
	if st == nil {
		st = &keyStats{id: k.ID}
		u.m[k.ID] = st
	}
	st.touched = now
	if k.QuotaRemaining != nil {
		// Uses not yet flushed are not in the stored figure. Counting the
		// inflight ones may count a just-committed flush twice: that errs on
		// the side of refusing, and the next load corrects it.
		st.remaining.Store(*k.QuotaRemaining - st.pending.Load() - st.inflight.Load())
	}
	return st
}

// apply adds the unflushed usage of k's stats to k (LastUsedAt and
// QuotaRemaining); the caller holds Service.flushMu.
func (u *usageTable) apply(k *Key) {
	u.mu.Lock()
	st := u.m[k.ID]
	u.mu.Unlock()
	if st == nil {
		return
	}
	if us := st.last.Load(); us != 0 && (k.LastUsedAt == nil || k.LastUsedAt.UnixMicro() < us) {
		k.LastUsedAt = new(time.UnixMicro(us).UTC())
	}
	if k.QuotaRemaining != nil {
		k.QuotaRemaining = new(max(*k.QuotaRemaining-st.pending.Load(), 0))
	}
}

// peek returns the unflushed counts of a key; the caller holds flushMu.
func (u *usageTable) peek(id string) []UsageCount {
	u.mu.Lock()
	st := u.m[id]
	u.mu.Unlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.unflushed()
}

// collect takes every unflushed count, last use and quota use into a batch
// (quota uses move from pending to inflight), and forgets keys idle since
// before now-statsIdle with nothing left to flush.
func (u *usageTable) collect(now time.Time) []UsageDelta {
	u.mu.Lock()
	defer u.mu.Unlock()
	var batch []UsageDelta
	for id, st := range u.m {
		d := UsageDelta{KeyID: id}
		st.mu.Lock()
		d.Counts = st.spill
		st.spill = nil
		for i := range st.slots {
			sl := &st.slots[i]
			h := sl.hour.Load()
			for o := range sl.n {
				if v := sl.n[o].Swap(0); v != 0 {
					d.Counts = append(d.Counts, UsageCount{Start: hourStart(h), Outcome: outcomes[o], N: v})
				}
			}
		}
		st.mu.Unlock()
		if us := st.last.Swap(0); us != 0 {
			d.LastUsedAt = new(time.UnixMicro(us).UTC())
		}
		d.QuotaUsed = st.pending.Swap(0)
		st.inflight.Add(d.QuotaUsed)
		if len(d.Counts) == 0 && d.LastUsedAt == nil && d.QuotaUsed == 0 {
			if st.inflight.Load() == 0 && now.Sub(st.touched) > statsIdle {
				delete(u.m, id)
			}
			continue
		}
		batch = append(batch, d)
	}
	return batch
}

// done settles a batch: written (ok) or to be retried with the next flush.
func (u *usageTable) done(batch []UsageDelta, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, d := range batch {
		st := u.m[d.KeyID]
		if st == nil { // only idle stats are forgotten, and these were not
			continue
		}
		st.inflight.Add(-d.QuotaUsed)
		if ok {
			continue
		}
		st.pending.Add(d.QuotaUsed)
		if d.LastUsedAt != nil {
			st.used(d.LastUsedAt.UnixMicro())
		}
		st.mu.Lock()
		for _, c := range d.Counts {
			st.addSpill(c)
		}
		st.mu.Unlock()
	}
}
