package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Request describes the HTTP request behind an event.
type Request struct {
	IP        string
	UserAgent string
	ID        string
}

type requestKey struct{}
type actorKey struct{}

// WithRequest returns ctx carrying the request facts events record.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request facts of ctx.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// WithActor returns ctx carrying the actor events record.
func WithActor(ctx context.Context, a Ref) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx; the system when none was set.
func ActorFrom(ctx context.Context) Ref {
	if a, ok := ctx.Value(actorKey{}).(Ref); ok && a.Type != "" {
		return a
	}
	return Ref{Type: TypeSystem, ID: "gatehouse"}
}

// Recorder appends events to the chain. Record inside a store transaction
// joins it, so the change and its event commit together.
type Recorder struct {
	store   Store
	key     []byte
	headKey []byte // derived from key (HeadMAC); nil when key is too short
	now     func() time.Time
	// OnRecord, when set, is called after each event is recorded (metrics,
	// security-event detection). It must not block.
	OnRecord func(*Event)
}

// NewRecorder returns a recorder writing to store, chaining events with an
// HMAC under key (see ChainHash).
func NewRecorder(store Store, key []byte) *Recorder {
	hk, _ := headKey(key) // a short key fails every append (ChainHash)
	return &Recorder{store: store, key: key, headKey: hk, now: time.Now}
}

// Record fills e's id, time (when zero), actor (when empty), request facts
// and chain fields from ctx, then appends it. Metadata must hold no secret.
func (r *Recorder) Record(ctx context.Context, e Event) error {
	r.prepare(ctx, &e)
	return r.append(ctx, []*Event{&e})
}

// prepare fills what ctx and the clock know.
func (r *Recorder) prepare(ctx context.Context, e *Event) {
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	// PostgreSQL keeps microseconds: hash what every engine stores exactly.
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if e.ID == "" {
		e.ID = secret.TimeOrderedID("evt", e.Time)
	}
	if e.Actor.Type == "" {
		e.Actor = ActorFrom(ctx)
	}
	req := RequestFrom(ctx)
	if e.IP == "" {
		e.IP = req.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = truncate(req.UserAgent, 512)
	}
	if e.RequestID == "" {
		e.RequestID = req.ID
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
}

// append chains and stores events in one transaction (joining the caller's)
// and moves the head to the last of them with its MAC. A head without a MAC
// (a new chain, or one written before heads carried MACs) first gets an
// ActionHeadAuthenticated event in the same transaction.
func (r *Recorder) append(ctx context.Context, events []*Event) error {
	written := events
	err := r.store.InTx(ctx, func(ctx context.Context) error {
		head, err := r.store.AuditHead(ctx)
		if err != nil {
			return err
		}
		written = events
		if head.MAC == "" {
			auth := &Event{Action: ActionHeadAuthenticated, Target: Ref{Type: TypeSystem, ID: "audit_head"},
				Reason: "the chain head carries a MAC from this event on"}
			r.prepare(context.Background(), auth) // actor: the system
			written = append([]*Event{auth}, events...)
		}
		seq, prev := head.Seq, head.Hash
		for _, e := range written {
			seq++
			e.Seq, e.PrevHash = seq, prev
			if e.Hash, err = ChainHash(r.key, e); err != nil {
				return err
			}
			prev = e.Hash
		}
		return r.store.InsertAudit(ctx, headMAC(r.headKey, seq, prev), written...)
	})
	if err != nil {
		return fmt.Errorf("record %d audit event(s), first %s: %w", len(events), events[0].Action, err)
	}
	if r.OnRecord != nil {
		for _, e := range written {
			r.OnRecord(e)
		}
	}
	return nil
}

// Batcher appends events that record no state change of their own (a token
// issued by client_credentials) in groups: one transaction per batch instead
// of one per event, so such a hot path does not queue behind the database.
// An event waits at most MaxDelay; a clean shutdown (Run returning) writes
// every queued event; a crash may lose the last MaxDelay of them. Record
// outside store transactions only: a caller that waits for room in the
// queue while holding the writer's turn would wait for a batch that needs
// that turn.
type Batcher struct {
	rec      *Recorder
	queue    chan *Event
	stopped  chan struct{} // closed when Run returns
	MaxDelay time.Duration
	MaxBatch int
}

// NewBatcher returns a batcher of rec with room for queue waiting events.
func NewBatcher(rec *Recorder, queue int) *Batcher {
	return &Batcher{rec: rec, queue: make(chan *Event, queue), stopped: make(chan struct{}),
		MaxDelay: 20 * time.Millisecond, MaxBatch: 512}
}

// Record queues e (filled from ctx now). When the queue is full it waits for
// room, so back-pressure slows the callers while the batches go on: had they
// recorded synchronously instead, each would take the audit head for a
// commit of its own and the batches would queue behind them (on PostgreSQL
// a convoy of row-lock waits, p99 over a second). When ctx ends first the
// error is Unavailable. Once Run has returned it records synchronously; a
// Record racing with Run's return could still queue an event nobody writes,
// so Run's context ends only after the last caller (the server drains after
// its last request).
func (b *Batcher) Record(ctx context.Context, e Event) error {
	b.rec.prepare(ctx, &e)
	select {
	case <-b.stopped:
		return b.rec.append(ctx, []*Event{&e})
	default:
	}
	select {
	case b.queue <- &e:
		return nil
	case <-b.stopped:
		return b.rec.append(ctx, []*Event{&e})
	case <-ctx.Done():
		return apperr.Unavailable(apperr.CodeUnavailable, time.Second, "too many audit events waiting to be written; retry shortly").WithCause(ctx.Err())
	}
}

// Run writes queued events until ctx ends, then writes what is left. Call
// it once.
func (b *Batcher) Run(ctx context.Context) {
	defer close(b.stopped)
	batch := make([]*Event, 0, b.MaxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := b.rec.append(context.WithoutCancel(ctx), batch); err != nil {
			slog.Error("writing a batch of audit events failed", "events", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case e := <-b.queue:
			if len(batch) == 0 {
				timer.Reset(b.MaxDelay)
			}
			batch = append(batch, e)
			if len(batch) >= b.MaxBatch {
				flush()
			}
		case <-timer.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case e := <-b.queue:
					batch = append(batch, e)
				default:
					flush()
					return
				}
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// canonical is the hashed form of an event: fixed field order, UTC time with
// nanosecond layout, metadata with sorted keys (encoding/json sorts maps).
type canonical struct {
	Seq       int64          `json:"seq"`
	ID        string         `json:"id"`
	Time      string         `json:"time"`
	Actor     Ref            `json:"actor"`
	Action    string         `json:"action"`
	Target    Ref            `json:"target"`
	Outcome   string         `json:"outcome"`
	Reason    string         `json:"reason"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Metadata  map[string]any `json:"metadata"`
	PrevHash  string         `json:"prev_hash"`
}

// ChainHash returns the hex HMAC-SHA256 under key of e's canonical form,
// which includes PrevHash and Seq but not Hash. The key (the audit chain key,
// kept sealed under the master key) is what makes the chain tamper-evident
// against someone who can write the database but does not hold the master
// key: without it no edited, inserted or re-chained event verifies.
func ChainHash(key []byte, e *Event) (string, error) {
	if len(key) < 16 {
		return "", fmt.Errorf("audit: chain key of %d bytes; it must be at least 16", len(key))
	}
	md := e.Metadata
	if len(md) == 0 {
		md = nil
	}
	b, err := json.Marshal(canonical{
		Seq: e.Seq, ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano),
		Actor: e.Actor, Action: e.Action, Target: e.Target, Outcome: e.Outcome,
		Reason: e.Reason, IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		Metadata: md, PrevHash: e.PrevHash,
	})
	if err != nil {
		return "", fmt.Errorf("audit: encode event: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return hex.EncodeToString(mac.Sum(nil)), nil
}
