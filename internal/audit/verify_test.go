package audit_test

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

// tampered shows Verify the events of a real store as an attacker with
// write access to the table would leave them: edit may change, drop
// (return nil) or precede an event with forged ones.
type tampered struct {
	*store.Store
	edit func(e *audit.Event) []*audit.Event
}

func (s tampered) ScanAudit(ctx context.Context, after int64, fn func(*audit.Event) error) error {
	return s.Store.ScanAudit(ctx, after, func(e *audit.Event) error {
		for _, x := range s.edit(e) {
			if err := fn(x); err != nil {
				return err
			}
		}
		return nil
	})
}

// record appends n events through the recorder, in the store's transactions.
func record(t *testing.T, st *store.Store, n int) {
	t.Helper()
	rec := audit.NewRecorder(st, storetest.ChainKey)
	ctx := audit.WithRequest(t.Context(), audit.Request{IP: "192.0.2.1", UserAgent: "test", ID: "req_1"})
	for i := range n {
		ev := audit.Event{Action: "user.updated", Target: audit.Ref{Type: "user", ID: fmt.Sprintf("usr_%d", i)},
			Metadata: map[string]any{"i": i, "note": "ünïcode \u2028 and \"quotes\""}}
		if err := rec.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

func forge(t *testing.T, seq int64, prev string) *audit.Event {
	t.Helper()
	e := &audit.Event{ID: "evt_forged", Seq: seq, Time: time.Now().UTC().Truncate(time.Microsecond), Action: "user.deleted",
		Actor: audit.Ref{Type: "system", ID: "gatehouse"}, Outcome: audit.OutcomeSuccess, PrevHash: prev}
	var err error
	if e.Hash, err = audit.ChainHash(storetest.ChainKey, e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestVerify runs Verify over real stores: intact, then each kind of tampering.
func TestVerify(t *testing.T) {
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			st := newStore(t)
			ctx := t.Context()
			res, err := audit.Verify(ctx, st, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 0 {
				t.Fatalf("empty chain: %+v, %v", res, err)
			}
			record(t, st, 6)
			res, err = audit.Verify(ctx, st, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 6 || res.LastSeq != 6 || len(res.LastHash) != 64 {
				t.Fatalf("intact chain: %+v, %v", res, err)
			}

			var third *audit.Event
			_ = st.ScanAudit(ctx, 2, func(e *audit.Event) error {
				if third == nil {
					third = e
				}
				return nil
			})
			for _, c := range []struct {
				name    string
				edit    func(e *audit.Event) []*audit.Event
				problem string // "seq: text" of one expected problem
			}{
				{"edited reason", func(e *audit.Event) []*audit.Event {
					if e.Seq == 3 {
						e.Reason = "nothing happened"
					}
					return []*audit.Event{e}
				}, "3: hash does not match the content"},
				{"edited metadata", func(e *audit.Event) []*audit.Event {
					if e.Seq == 2 {
						e.Metadata["i"] = 99.0
					}
					return []*audit.Event{e}
				}, "2: hash does not match the content"},
				{"edited time", func(e *audit.Event) []*audit.Event {
					if e.Seq == 5 {
						e.Time = e.Time.Add(-time.Hour)
					}
					return []*audit.Event{e}
				}, "5: hash does not match the content"},
				{"deleted middle event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 3 {
						return nil
					}
					return []*audit.Event{e}
				}, "4: sequence jumps from 2"},
				{"deleted last event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 6 {
						return nil
					}
					return []*audit.Event{e}
				}, "6: the chain head says event 6 but the last event is 5"},
				{"inserted event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 4 {
						return []*audit.Event{forge(t, 4, third.Hash), e}
					}
					return []*audit.Event{e}
				}, "4: sequence jumps from 4"},
			} {
				t.Run(c.name, func(t *testing.T) {
					res, err := audit.Verify(ctx, tampered{st, c.edit}, storetest.ChainKey, nil)
					if err != nil || res.OK() {
						t.Fatalf("tampering not detected: %+v, %v", res, err)
					}
					var got []string
					for _, p := range res.Problems {
						got = append(got, fmt.Sprintf("%d: %s", p.Seq, p.Reason))
					}
					if !strings.Contains(strings.Join(got, "\n"), c.problem) {
						t.Errorf("problems %q lack %q", got, c.problem)
					}
				})
			}

			// An event inserted through the store but not chained to the head.
			err = st.InTx(ctx, func(ctx context.Context) error {
				seq, _, err := st.AuditHead(ctx)
				if err != nil {
					return err
				}
				return st.InsertAudit(ctx, forge(t, seq+1, third.Hash))
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err = audit.Verify(ctx, st, storetest.ChainKey, nil)
			if err != nil || res.OK() || res.Problems[0].ID != "evt_forged" {
				t.Fatalf("stored forgery not detected: %+v, %v", res, err)
			}
		})
	}
}
