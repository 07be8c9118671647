package ratelimit

import (
	"sync"
	"time"
)

// Sampler lets one event per key through per interval: the audit record of
// a denial or a refusal, so a flood of them cannot flood the log. Memory is
// bounded: past maxKeys it forgets everything (and lets one more through).
type Sampler struct {
	mu       sync.Mutex
	last     map[string]time.Time
	interval time.Duration
	maxKeys  int
}

// NewSampler returns a Sampler letting one event per key through per interval.
func NewSampler(interval time.Duration, maxKeys int) *Sampler {
	return &Sampler{last: map[string]time.Time{}, interval: interval, maxKeys: maxKeys}
}

// Allow reports whether the event of key at now should be kept.
func (s *Sampler) Allow(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.last[key]; ok && now.Sub(t) < s.interval {
		return false
	}
	if len(s.last) >= s.maxKeys {
		clear(s.last)
	}
	s.last[key] = now
	return true
}
