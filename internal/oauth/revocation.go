package oauth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// Revocations is the deny list of access tokens. Entries live in the store
// (so every instance and every restart sees them) and in an in-memory index
// that answers on the hot path without I/O. The instance that revokes applies
// the entry at once; the others pick it up by polling the store every
// second (and, in a cluster, by Redis fan-out when configured).
type Revocations struct {
	store     Store
	audit     *audit.Recorder
	accessTTL time.Duration
	now       func() time.Time

	mu      sync.RWMutex
	jti     map[string]time.Time // jti → expiry of the entry
	sid     map[string]time.Time
	sub     map[string]time.Time // user id → revoked at (tokens issued at or before are dead)
	subExp  map[string]time.Time
	lastSeq int64
}

// NewRevocations returns an empty index; call Sync to load it.
func NewRevocations(store Store, rec *audit.Recorder, accessTTL time.Duration) *Revocations {
	return &Revocations{store: store, audit: rec, accessTTL: accessTTL, now: time.Now,
		jti: map[string]time.Time{}, sid: map[string]time.Time{}, sub: map[string]time.Time{}, subExp: map[string]time.Time{}}
}

// Revoked reports whether a token with that jti, session and subject,
// issued at iat, is on the deny list.
func (r *Revocations) Revoked(jti, sid, sub string, iat time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.jti[jti]; ok && jti != "" {
		return true
	}
	if _, ok := r.sid[sid]; ok && sid != "" {
		return true
	}
	// iat has whole seconds: a token issued in the very second of the
	// revocation may be older or newer. One with a session is judged by its
	// session (revoked sessions are on the sid list), so signing in right
	// after a password reset or an enable works; one without is refused.
	if at, ok := r.sub[sub]; ok && sub != "" && (iat.Unix() < at.Unix() || (iat.Unix() == at.Unix() && sid == "")) {
		return true
	}
	return false
}

func (r *Revocations) apply(e *Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case RevokeJTI:
		r.jti[e.Value] = e.ExpiresAt
	case RevokeSession:
		r.sid[e.Value] = e.ExpiresAt
	case RevokeSubject:
		if at, ok := r.sub[e.Value]; !ok || e.RevokedAt.After(at) {
			r.sub[e.Value], r.subExp[e.Value] = e.RevokedAt, e.ExpiresAt
		}
	}
	if e.Seq > r.lastSeq {
		r.lastSeq = e.Seq
	}
}

// Add stores a deny-list entry (inside the caller's transaction when there is
// one) and applies it to this instance at once. Applying before the commit
// fails closed: a rolled-back revocation only denies early.
func (r *Revocations) Add(ctx context.Context, kind RevocationKind, value string, expires time.Time) error {
	now := r.now().UTC()
	e := &Revocation{Kind: kind, Value: value, RevokedAt: now, ExpiresAt: expires}
	seq, err := r.store.InsertRevocation(ctx, e)
	if err != nil {
		return err
	}
	e.Seq = seq
	r.apply(e)
	return nil
}

// Sync loads the entries added since the last sync (by any instance).
func (r *Revocations) Sync(ctx context.Context) error {
	r.mu.RLock()
	after := r.lastSeq
	r.mu.RUnlock()
	list, err := r.store.ListRevocations(ctx, after, r.now().UTC())
	if err != nil {
		return err
	}
	for _, e := range list {
		r.apply(e)
	}
	return nil
}

// prune drops expired entries from memory and the store.
func (r *Revocations) prune(ctx context.Context) {
	now := r.now().UTC()
	r.mu.Lock()
	for k, exp := range r.jti {
		if exp.Before(now) {
			delete(r.jti, k)
		}
	}
	for k, exp := range r.sid {
		if exp.Before(now) {
			delete(r.sid, k)
		}
	}
	for k, exp := range r.subExp {
		if exp.Before(now) {
			delete(r.sub, k)
			delete(r.subExp, k)
		}
	}
	r.mu.Unlock()
	if _, err := r.store.DeleteExpiredRevocations(ctx, now); err != nil && ctx.Err() == nil {
		slog.WarnContext(ctx, "pruning revocations failed", "err", err)
	}
}

// Run syncs every interval and prunes every minute until ctx ends.
func (r *Revocations) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
				slog.WarnContext(ctx, "syncing revocations failed", "err", err)
			}
			if time.Since(lastPrune) > time.Minute {
				r.prune(ctx)
				lastPrune = time.Now()
			}
		}
	}
}

// RevokeUser implements user.SessionRevoker: it revokes every live session of
// the user except `except`, denies their access tokens, and, when nothing is
// kept, every access token of the user issued until now.
func (r *Revocations) RevokeUser(ctx context.Context, userID, except, reason string) error {
	now := r.now().UTC()
	exp := now.Add(r.accessTTL + time.Minute)
	return r.store.InTx(ctx, func(ctx context.Context) error {
		ids, err := r.store.RevokeUserSessions(ctx, userID, except, reason, now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.Add(ctx, RevokeSession, id, exp); err != nil {
				return err
			}
			if err := r.audit.Record(ctx, audit.Event{Action: "session.revoked", Target: audit.Ref{Type: audit.TypeSession, ID: id},
				Reason: reason, Metadata: map[string]any{"user_id": userID}}); err != nil {
				return err
			}
		}
		if except == "" {
			return r.Add(ctx, RevokeSubject, userID, exp)
		}
		return nil
	})
}
