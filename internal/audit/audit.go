// Package audit records security-relevant actions as a tamper-evident chain
// of events: each event carries the hash of the one before it, so any edit,
// insertion or deletion is detected by Verify.
package audit

import (
	"context"
	"time"
)

// Outcomes of an event.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Actor and target types.
const (
	TypeUser    = "user"
	TypeKey     = "key"
	TypeClient  = "client"
	TypeSystem  = "system"
	TypeSession = "session"
	TypeRole    = "role"
	TypeGroup   = "group"
	TypeToken   = "token"
	TypeSetting = "setting"
	TypeSigning = "signing_key"
)

// Ref names an actor or a target.
type Ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Event is one audit record. Seq is its position in the chain (1, 2, …);
// Hash is the HMAC-SHA256 of the event's canonical form including PrevHash
// (ChainHash).
type Event struct {
	ID        string         `json:"id"`
	Seq       int64          `json:"seq"`
	Time      time.Time      `json:"time"`
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
	Hash      string         `json:"hash"`
}

// Query filters events for listing; results are newest first. BeforeSeq,
// when positive, returns only events with Seq < BeforeSeq (the cursor).
type Query struct {
	Action    string // exact, or a prefix ending in ".*" (e.g. "client.*")
	ActorID   string
	TargetID  string
	Outcome   string
	Since     time.Time
	Until     time.Time
	Limit     int
	BeforeSeq int64
}

// Head is the chain's head as the store holds it: the Seq and Hash of the
// last event (0, "" when none) and MAC, which authenticates the two (see
// HeadMAC). MAC is "" in a head written before heads carried one.
type Head struct {
	Seq  int64
	Hash string
	MAC  string
}

// Store is what the audit package needs from storage.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AuditHead returns the head, locking it so that concurrent appends
	// serialize. Inside InTx.
	AuditHead(ctx context.Context) (Head, error)
	// InsertAudit stores events (Seq, PrevHash and Hash already set, Seqs
	// consecutive from the head's) and advances the head to the last of
	// them, with mac as its MAC (HeadMAC of that event's Seq and Hash).
	// Inside InTx, after AuditHead.
	InsertAudit(ctx context.Context, mac string, events ...*Event) error
	// ListAudit returns events matching q, newest first.
	ListAudit(ctx context.Context, q Query) ([]*Event, error)
	// ScanAudit calls fn for every event with Seq > afterSeq in ascending order.
	ScanAudit(ctx context.Context, afterSeq int64, fn func(*Event) error) error
}
