package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
)

const auditColumns = `id, seq, time, actor_type, actor_id, action, target_type, target_id,
	outcome, reason, ip, user_agent, request_id, metadata, prev_hash, hash`

func scanEvent(sc scanner) (*audit.Event, error) {
	e := new(audit.Event)
	err := sc.Scan(&e.ID, &e.Seq, timeCol{&e.Time}, &e.Actor.Type, &e.Actor.ID, &e.Action,
		&e.Target.Type, &e.Target.ID, &e.Outcome, &e.Reason, &e.IP, &e.UserAgent, &e.RequestID,
		metaCol{&e.Metadata}, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	return e, nil
}

const auditHead = `SELECT seq, hash, mac FROM audit_head WHERE id = 1`

// AuditHead returns the head: the Seq and Hash of the last event (0, ""
// when none) and the MAC written with them ("" before migration 12's first
// append), locking the head until the end of the context's transaction
// (PostgreSQL: FOR UPDATE on the one-row audit_head; SQLite: the
// transaction's write lock), so that concurrent appends serialize. Internal
// outside InTx.
func (s *Store) AuditHead(ctx context.Context) (audit.Head, error) {
	if !s.inTx(ctx) {
		return audit.Head{}, apperr.Internal(errors.New("store: AuditHead called outside InTx"))
	}
	st := s.txFrom(ctx)
	if st.head != nil {
		return *st.head, nil
	}
	var h audit.Head
	if err := s.wr(ctx).queryRow(ctx, s.d.auditHeadForUpdate).Scan(&h.Seq, &h.Hash, &h.MAC); err != nil {
		return audit.Head{}, s.mapErr(err)
	}
	st.head = &h
	st.stored, st.kept = st.head, st.head
	return h, nil
}

// InsertAudit stores events (each with its Seq, PrevHash and Hash set,
// their Seqs consecutive) as the successors of the head, and moves the head
// to the last of them with mac, the MAC the caller computed over it (the
// store does not hold the key). The head must be at the first event's
// Seq-1, as AuditHead returned it in this transaction; otherwise nothing is
// written and the error is Internal. The head row itself is written once
// per group, at its commit (writeHead). On PostgreSQL one statement inserts
// them all, so a batch (Batcher) costs about what one event does; on SQLite
// each is one prepared INSERT.
func (s *Store) InsertAudit(ctx context.Context, mac string, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	mds := make([]any, len(events))
	for i, e := range events {
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			return apperr.Internal(fmt.Errorf("store: audit event %d follows event %d: seqs must be consecutive", e.Seq, events[i-1].Seq))
		}
		md, err := meta(e.Metadata)
		if err != nil {
			return apperr.Internal(err)
		}
		mds[i] = md
	}
	first, last := events[0], events[len(events)-1]
	return s.InTx(ctx, func(ctx context.Context) error {
		st := s.txFrom(ctx)
		if st.head == nil || st.head.Seq != first.Seq-1 {
			return apperr.Internal(fmt.Errorf("store: audit event %d does not follow the head: call AuditHead in the same transaction", first.Seq))
		}
		w := s.wr(ctx)
		if s.d.engine == EnginePostgres {
			if _, err := w.exec(ctx, insertAuditRows, auditRows(events, mds)...); err != nil {
				return s.mapErr(err)
			}
		} else {
			for i, e := range events {
				_, err := w.exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
					e.ID, e.Seq, s.t(e.Time), e.Actor.Type, e.Actor.ID, e.Action, e.Target.Type, e.Target.ID,
					e.Outcome, e.Reason, e.IP, e.UserAgent, e.RequestID, mds[i], e.PrevHash, e.Hash)
				if err != nil {
					return s.mapErr(err)
				}
			}
		}
		st.head = &audit.Head{Seq: last.Seq, Hash: last.Hash, MAC: mac}
		return nil
	})
}

// insertAuditRows inserts any number of events in one PostgreSQL statement,
// one array per column (auditRows): its text stays the same whatever the
// count, so it is prepared once.
const insertAuditRows = `INSERT INTO audit_events (` + auditColumns + `)
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
		$15::text[], $16::text[])`

// auditRows returns the column arrays of insertAuditRows; mds holds each
// event's encoded metadata (nil or a string).
func auditRows(events []*audit.Event, mds []any) []any {
	n := len(events)
	seqs, times, metas := make([]int64, n), make([]time.Time, n), make([]*string, n)
	var text [13][]string // the other columns, in the order of auditColumns
	for c := range text {
		text[c] = make([]string, n)
	}
	for i, e := range events {
		seqs[i], times[i] = e.Seq, e.Time.UTC().Truncate(time.Microsecond)
		for c, v := range [13]string{e.ID, e.Actor.Type, e.Actor.ID, e.Action, e.Target.Type, e.Target.ID,
			e.Outcome, e.Reason, e.IP, e.UserAgent, e.RequestID, e.PrevHash, e.Hash} {
			text[c][i] = v
		}
		if md, ok := mds[i].(string); ok {
			metas[i] = &md
		}
	}
	return []any{text[0], seqs, times, text[1], text[2], text[3], text[4], text[5], text[6],
		text[7], text[8], text[9], text[10], metas, text[11], text[12]}
}

// writeHead writes a group's head row before its commit, when a member
// advanced the chain: from where the row was to where the last member
// that succeeded left it (writer.go).
func (s *Store) writeHead(st *txState) error {
	if st.kept == nil || st.stored == nil || *st.kept == *st.stored {
		return nil
	}
	h := *st.kept
	if h.Seq <= st.stored.Seq {
		return apperr.Internal(fmt.Errorf("store: audit head would move back from %d to %d", st.stored.Seq, h.Seq))
	}
	res, err := runner{st: st, cache: s.wstmts}.exec(context.Background(), `UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1 AND seq = $4`,
		h.Seq, h.Hash, h.MAC, st.stored.Seq)
	if err != nil {
		return s.mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.mapErr(err)
	} else if n != 1 {
		return apperr.Internal(fmt.Errorf("store: the audit head moved under the group (want %d)", st.stored.Seq))
	}
	return nil
}

// ListAudit returns events matching q, newest (highest Seq) first: Action
// exact, or "prefix.*" for every action starting with "prefix."; ActorID,
// TargetID and Outcome exact; Time in [Since, Until) where set; Seq <
// BeforeSeq when positive; at most Limit (DefaultListLimit when not positive).
func (s *Store) ListAudit(ctx context.Context, q audit.Query) ([]*audit.Event, error) {
	var a args
	var where []string
	if prefix, ok := strings.CutSuffix(q.Action, "*"); ok {
		// substr, not LIKE: exact and case-sensitive on both engines.
		where = append(where, "substr(action, 1, "+a.add(len(prefix))+") = "+a.add(prefix))
	} else if q.Action != "" {
		where = append(where, "action = "+a.add(q.Action))
	}
	if q.ActorID != "" {
		where = append(where, "actor_id = "+a.add(q.ActorID))
	}
	if q.TargetID != "" {
		where = append(where, "target_id = "+a.add(q.TargetID))
	}
	if q.Outcome != "" {
		where = append(where, "outcome = "+a.add(q.Outcome))
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= "+a.add(s.t(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < "+a.add(s.t(q.Until)))
	}
	if q.BeforeSeq > 0 {
		where = append(where, "seq < "+a.add(q.BeforeSeq))
	}
	var b strings.Builder
	b.WriteString("SELECT " + auditColumns + " FROM audit_events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY seq DESC LIMIT " + a.add(limit(q.Limit, DefaultListLimit)))
	rows, err := s.rd(ctx).query(ctx, b.String(), a...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*audit.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// scanBatch is how many events ScanAudit reads per query.
const scanBatch = 500

// ScanAudit calls fn for every event with Seq > afterSeq in ascending order.
// It reads in batches of scanBatch by Seq, so memory stays bounded and no
// cursor stays open while fn runs (fn may use the store, even the same
// transaction). fn's error stops the scan and is returned as is.
func (s *Store) ScanAudit(ctx context.Context, afterSeq int64, fn func(*audit.Event) error) error {
	batch := make([]*audit.Event, 0, scanBatch)
	for {
		batch = batch[:0]
		rows, err := s.rd(ctx).query(ctx, `SELECT `+auditColumns+` FROM audit_events
			WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, scanBatch)
		if err != nil {
			return s.mapErr(err)
		}
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				_ = rows.Close()
				return s.mapErr(err)
			}
			batch = append(batch, e)
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return s.mapErr(err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		afterSeq = batch[len(batch)-1].Seq
	}
}
