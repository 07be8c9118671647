package server

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// maxHeldRefusals bounds the credential-endpoint refusals held at once
// (each costs a goroutine and a connection's buffers, about 20 KiB): past
// it, refusals are answered at once.
const maxHeldRefusals = 256

// pacer holds a rate-limited credential request's 429 for a moment before
// sending it (tarpitting, as nginx's limit_req delays excess requests): a
// credential-stuffing client that retries as soon as it is refused then
// sends a request per connection per delay instead of thousands a second,
// so its refusals stop taking the CPU a legitimate sign-in's password hash
// needs (docs/decisions.md). The answer is the same 429 with the same
// headers; only its timing changes. Sleeping costs no CPU.
type pacer struct {
	delay time.Duration // at most this long; 0 turns pacing off
	held  chan struct{} // capacity maxHeldRefusals
}

func newPacer(delay time.Duration) *pacer {
	return &pacer{delay: delay, held: make(chan struct{}, maxHeldRefusals)}
}

// hold delays the answer to a request refused with err when err is a rate
// limit: by the pacer's delay, or the Retry-After when sooner; not when
// maxHeldRefusals are held already, nor past ctx's end.
func (p *pacer) hold(ctx context.Context, err error) {
	if p == nil || p.delay <= 0 || err == nil {
		return
	}
	var retry time.Duration
	if ae, ok := apperr.As(err); ok && ae.Kind == apperr.KindRateLimited {
		retry = ae.RetryAfter
	} else if oe := (*oauth.Error)(nil); errors.As(err, &oe) && oe.Status == 429 {
		retry = oe.RetryAfter
	} else {
		return
	}
	d := p.delay
	if retry > 0 && retry < d {
		d = retry
	}
	select {
	case p.held <- struct{}{}:
	default:
		return
	}
	defer func() { <-p.held }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
