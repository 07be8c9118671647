package oauth

import (
	"context"
	"log/slog"
	"time"
)

// replayPruneBatch bounds one delete of sealed replay responses, so the
// pruner holds the SQLite writer for a few milliseconds at a time, between
// the refreshes it serves.
const replayPruneBatch = 500

// ReplayPruner deletes the sealed successor responses of refresh rotations
// once no retry can be answered with them any more: a retry gets the
// response only within the reuse grace of its rotation, and after it the
// response is dead weight (1.5 KB per rotation, for the life of the session,
// decisions.md #21). The token rows stay, so a reuse is still detected.
//
// It needs no index on time: each Prune notes the newest replay's id with
// the time, and deletes up to the newest id noted more than the grace plus
// margin ago. Every replay up to that id was written before that note, so
// its rotation is older than the grace; margin covers clocks of instances
// that differ by less.
type ReplayPruner struct {
	store  Store
	grace  time.Duration
	margin time.Duration
	marks  []replayMark // oldest first
}

type replayMark struct {
	id int64
	at time.Time
}

// NewReplayPruner returns a pruner of the service's replays that Run runs
// every interval; the interval is also its margin.
func (s *Service) NewReplayPruner(every time.Duration) *ReplayPruner {
	return &ReplayPruner{store: s.store, grace: s.opts.ReuseGrace, margin: every}
}

// Prune notes the newest replay at now and deletes those noted more than
// the grace and the margin before now; it returns how many it deleted.
func (p *ReplayPruner) Prune(ctx context.Context, now time.Time) (int, error) {
	id, err := p.store.LastRefreshReplayID(ctx)
	if err != nil {
		return 0, err
	}
	if n := len(p.marks); n == 0 || p.marks[n-1].id != id {
		p.marks = append(p.marks, replayMark{id: id, at: now})
	}
	var upto int64
	expired := 0
	for _, m := range p.marks {
		if now.Sub(m.at) <= p.grace+p.margin {
			break
		}
		upto, expired = m.id, expired+1
	}
	p.marks = p.marks[expired:]
	if upto == 0 {
		return 0, nil
	}
	deleted := 0
	for ctx.Err() == nil {
		n, err := p.store.DeleteRefreshReplays(ctx, upto, replayPruneBatch)
		deleted += n
		if err != nil || n < replayPruneBatch {
			return deleted, err
		}
	}
	return deleted, ctx.Err()
}

// Run prunes at every interval until ctx ends.
func (p *ReplayPruner) Run(ctx context.Context) {
	t := time.NewTicker(p.margin)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := p.Prune(ctx, now); err != nil && ctx.Err() == nil {
				slog.Warn("pruning refresh replays failed; retrying at the next tick", "err", err)
			} else if n > 0 {
				slog.Debug("pruned refresh replays", "count", n)
			}
		}
	}
}
