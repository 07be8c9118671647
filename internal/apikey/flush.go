package apikey

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Windows of Usage and retention of stored buckets.
const (
	UsageHours      = 48 // hourly buckets Usage returns
	UsageDays       = 90 // daily buckets Usage returns
	HourlyRetention = 7 * 24 * time.Hour
	DailyRetention  = 400 * 24 * time.Hour
	// finalFlushTimeout bounds the flush Run does when its context ends.
	finalFlushTimeout = 10 * time.Second
)

// UsageBucket is the count of verifications by outcome (OutcomeValid or a
// code) in the hour or day starting at Start (UTC).
type UsageBucket struct {
	Start  time.Time
	Counts map[string]int64
}

// Usage is a key's verification counts: Total over the stored history
// (DailyRetention), Hourly for the last UsageHours hours and Daily for the
// last UsageDays days, oldest first, only buckets with counts.
type Usage struct {
	KeyID  string
	Total  map[string]int64
	Hourly []UsageBucket
	Daily  []UsageBucket
}

// Flush writes the usage counted since the last flush (counts, last-used
// times, quota uses) in one transaction. On failure the counts stay in
// memory for the next flush.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	batch := s.usage.collect(s.now())
	if len(batch) == 0 {
		return nil
	}
	err := s.store.FlushUsage(ctx, batch)
	s.usage.done(batch, err == nil)
	return err
}

// Run flushes usage every FlushEvery and prunes old buckets every hour,
// until ctx ends; then it flushes once more and returns. Call it once per
// Service, and wait for it to return before closing the store, so that a
// clean shutdown loses no count.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.FlushEvery)
	defer t.Stop()
	var lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			if err := s.Flush(fctx); err != nil {
				slog.ErrorContext(fctx, "flushing API key usage at shutdown failed; counts lost", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				slog.WarnContext(ctx, "flushing API key usage failed; retrying at the next flush", "err", err)
			}
			if now := s.now(); now.Sub(lastPrune) >= time.Hour {
				s.prune(ctx, now)
				lastPrune = now
			}
		}
	}
}

// prune deletes buckets past their retention.
func (s *Service) prune(ctx context.Context, now time.Time) {
	for p, keep := range map[Period]time.Duration{PeriodHour: HourlyRetention, PeriodDay: DailyRetention} {
		if _, err := s.store.DeleteUsageBefore(ctx, p, now.Add(-keep)); err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "pruning API key usage failed", "period", string(p), "err", err)
		}
	}
}

// Usage returns the key's usage, including counts not yet flushed.
// NotFound key_not_found.
func (s *Service) Usage(ctx context.Context, id string) (Usage, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if _, err := s.store.GetKey(ctx, id); err != nil {
		return Usage{}, err
	}
	now := s.now().UTC()
	hourFrom := now.Truncate(time.Hour).Add(-(UsageHours - 1) * time.Hour)
	dayFrom := dayStart(now).AddDate(0, 0, -(UsageDays - 1))
	hourly, err := s.store.ListUsage(ctx, id, PeriodHour, hourFrom)
	if err != nil {
		return Usage{}, err
	}
	daily, err := s.store.ListUsage(ctx, id, PeriodDay, dayFrom)
	if err != nil {
		return Usage{}, err
	}
	total, err := s.store.UsageTotals(ctx, id)
	if err != nil {
		return Usage{}, err
	}
	hours, days := buckets{}, buckets{}
	for _, c := range hourly {
		hours.add(c.Start, c.Outcome, c.N)
	}
	for _, c := range daily {
		days.add(c.Start, c.Outcome, c.N)
	}
	for _, c := range s.usage.peek(id) {
		total[c.Outcome] += c.N
		if !c.Start.Before(hourFrom) {
			hours.add(c.Start, c.Outcome, c.N)
		}
		if d := dayStart(c.Start); !d.Before(dayFrom) {
			days.add(d, c.Outcome, c.N)
		}
	}
	return Usage{KeyID: id, Total: total, Hourly: hours.list(), Daily: days.list()}, nil
}

func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// buckets accumulates counts by bucket start (unix seconds).
type buckets map[int64]map[string]int64

func (b buckets) add(start time.Time, outcome string, n int64) {
	k := start.Unix()
	if b[k] == nil {
		b[k] = map[string]int64{}
	}
	b[k][outcome] += n
}

func (b buckets) list() []UsageBucket {
	out := make([]UsageBucket, 0, len(b))
	for _, k := range slices.Sorted(maps.Keys(b)) {
		out = append(out, UsageBucket{Start: time.Unix(k, 0).UTC(), Counts: b[k]})
	}
	return out
}
