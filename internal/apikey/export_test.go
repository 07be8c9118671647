package apikey

import "time"

// SetClock makes s read time from now (tests of expiry, grace, cache
// staleness and hourly buckets).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetCounting turns usage counting on or off (benchmarks measure its cost).
func (s *Service) SetCounting(on bool) { s.count = on }

// SetCacheTTL overrides the cache TTL without the MaxCacheTTL bound; 0
// makes every verification read the store (benchmarks of the slow path).
func (s *Service) SetCacheTTL(d time.Duration) { s.opts.CacheTTL = d }
