package ratelimit

import "time"

// NewMemoryAt is NewMemory on a given clock, so tests are deterministic.
func NewMemoryAt(maxKeys int, now func() time.Time) *Memory { return newMemory(maxKeys, now) }

// SetClock makes l pass now to its script instead of reading the Redis
// server's clock, so tests can move time.
func (l *Redis) SetClock(now func() time.Time) { l.now = now }
