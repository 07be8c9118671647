package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestAuditHeadFromBeforeMACs: a chain written before the head carried a MAC
// (migration 12) verifies after the upgrade, flagged as not authenticated;
// the next event authenticates the head, records that it did, and from then
// on a head whose MAC was blanked fails verification.
func TestAuditHeadFromBeforeMACs(t *testing.T) {
	for name, newStore := range storetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t)
			if err := s.MigrateDownTo(ctx, 11); err != nil {
				t.Fatalf("migrate down to 11: %v", err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := s.ExecAsAnotherInstance(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// Three events as version 11 wrote them, and its head row.
			prev := ""
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			for i := 1; i <= 3; i++ {
				e := &audit.Event{ID: fmt.Sprintf("evt_old%d", i), Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Second),
					Actor: audit.Ref{Type: audit.TypeSystem, ID: "gatehouse"}, Action: "user.created", Outcome: audit.OutcomeSuccess, PrevHash: prev}
				var err error
				if e.Hash, err = audit.ChainHash(storetest.ChainKey, e); err != nil {
					t.Fatal(err)
				}
				var tm any = e.Time
				if name == store.EngineSQLite {
					tm = e.Time.UnixMicro()
				}
				exec(`INSERT INTO audit_events (id, seq, time, actor_type, actor_id, action, outcome, prev_hash, hash)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, e.ID, e.Seq, tm, e.Actor.Type, e.Actor.ID, e.Action, e.Outcome, e.PrevHash, e.Hash)
				exec(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash)
				prev = e.Hash
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate up: %v", err)
			}
			res, err := audit.Verify(ctx, s, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 3 || !res.HeadUnauthenticated {
				t.Fatalf("after the upgrade: %+v, %v; want 3 events intact, the head not authenticated", res, err)
			}

			rec := audit.NewRecorder(s, storetest.ChainKey)
			if err := rec.Record(ctx, audit.Event{Action: "user.updated"}); err != nil {
				t.Fatal(err)
			}
			res, err = audit.Verify(ctx, s, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 5 || res.HeadUnauthenticated {
				t.Fatalf("after the next event: %+v, %v; want 5 events intact, the head authenticated", res, err)
			}
			var actions []string
			_ = s.ScanAudit(ctx, 3, func(e *audit.Event) error { actions = append(actions, e.Action); return nil })
			if strings.Join(actions, " ") != audit.ActionHeadAuthenticated+" user.updated" {
				t.Fatalf("events after the upgrade: %v", actions)
			}

			exec(`UPDATE audit_head SET mac = '' WHERE id = 1`)
			res, err = audit.Verify(ctx, s, storetest.ChainKey, nil)
			if err != nil || res.OK() || !strings.Contains(res.Problems[0].String(), "event 5 (head): the chain head (event 5) carries no MAC although event 4 authenticated it") {
				t.Fatalf("blanked MAC: %+v, %v", res, err)
			}
			// Migration 12 rolls back too.
			if err := s.MigrateDownTo(ctx, 11); err != nil {
				t.Fatalf("migrate down to 11 again: %v", err)
			}
			if err := s.InTx(context.WithoutCancel(ctx), func(ctx context.Context) error { _, err := s.AuditHead(ctx); return err }); err == nil {
				t.Fatal("AuditHead without the mac column succeeded")
			}
		})
	}
}
