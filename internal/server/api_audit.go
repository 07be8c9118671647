package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

func auditQuery(r *http.Request) (audit.Query, error) {
	q := r.URL.Query()
	aq := audit.Query{Action: q.Get("action"), ActorID: q.Get("actor_id"), TargetID: q.Get("target_id"), Outcome: q.Get("outcome"), Limit: 50}
	for name, v := range map[string]string{"action": aq.Action, "actor_id": aq.ActorID, "target_id": aq.TargetID} {
		if len(v) > 128 {
			return aq, apperr.InvalidField(name, "must be at most 128 bytes")
		}
	}
	switch aq.Outcome {
	case "", audit.OutcomeSuccess, audit.OutcomeFailure, audit.OutcomeDenied:
	default:
		return aq, apperr.InvalidField("outcome", "must be success, failure or denied")
	}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return aq, apperr.InvalidField(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*dst = t.UTC()
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return aq, apperr.InvalidField("limit", "must be a whole number from 1 to 500")
		}
		aq.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			return aq, apperr.Invalid(apperr.CodeInvalidCursor, "the cursor is not one this server gave").WithField("cursor", "invalid")
		}
		aq.BeforeSeq = n
	}
	return aq, nil
}

func nonNilEvent(e *audit.Event) *audit.Event {
	if e.Metadata == nil {
		e.Metadata = map[string]any{}
	}
	return e
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	limit := q.Limit
	q.Limit++
	events, err := s.auditStore.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	var next *string
	if len(events) > limit {
		events = events[:limit]
		c := strconv.FormatInt(events[limit-1].Seq, 10)
		next = &c
	}
	for _, e := range events {
		nonNilEvent(e)
	}
	if events == nil {
		events = []*audit.Event{}
	}
	encode(w, http.StatusOK, map[string]any{"items": events, "next_cursor": next})
	return nil
}

// handleExportAudit streams matching events oldest first as JSON lines.
func (s *Server) handleExportAudit(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-audit.jsonl"`)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err = s.auditStore.ScanAudit(r.Context(), 0, func(e *audit.Event) error {
		if !matches(q, e) {
			return nil
		}
		return enc.Encode(nonNilEvent(e))
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func matches(q audit.Query, e *audit.Event) bool {
	switch {
	case q.Action != "" && !actionMatches(q.Action, e.Action):
		return false
	case q.ActorID != "" && e.Actor.ID != q.ActorID:
		return false
	case q.TargetID != "" && e.Target.ID != q.TargetID:
		return false
	case q.Outcome != "" && e.Outcome != q.Outcome:
		return false
	case !q.Since.IsZero() && e.Time.Before(q.Since):
		return false
	case !q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	}
	return true
}

func actionMatches(pattern, action string) bool {
	if n := len(pattern); n >= 2 && pattern[n-2:] == ".*" {
		return len(action) >= n-1 && action[:n-1] == pattern[:n-1]
	}
	return pattern == action
}
