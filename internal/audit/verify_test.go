package audit_test

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
// (return nil) or precede an event with forged ones; head, when set, may
// rewrite the head.
type tampered struct {
	*store.Store
	edit func(e *audit.Event) []*audit.Event
	head func(h audit.Head) audit.Head
}

func (s tampered) AuditHead(ctx context.Context) (audit.Head, error) {
	h, err := s.Store.AuditHead(ctx)
	if err == nil && s.head != nil {
		h = s.head(h)
	}
	return h, err
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
			if err != nil || !res.OK() || res.Events != 0 || !res.HeadUnauthenticated {
				t.Fatalf("new empty chain: %+v, %v; want intact, its head not authenticated yet", res, err)
			}
			record(t, st, 6) // event 1 authenticates the head, 2–7 are the six
			res, err = audit.Verify(ctx, st, storetest.ChainKey, nil)
			if err != nil || !res.OK() || res.Events != 7 || res.LastSeq != 7 || len(res.LastHash) != 64 || res.HeadUnauthenticated {
				t.Fatalf("intact chain: %+v, %v", res, err)
			}

			var third *audit.Event
			hashes := map[int64]string{}
			_ = st.ScanAudit(ctx, 0, func(e *audit.Event) error {
				if third == nil && e.Seq == 3 {
					third = e
				}
				hashes[e.Seq] = e.Hash
				return nil
			})
			keep := func(e *audit.Event) []*audit.Event { return []*audit.Event{e} }
			before := func(seq int64) func(e *audit.Event) []*audit.Event {
				return func(e *audit.Event) []*audit.Event {
					if e.Seq >= seq {
						return nil
					}
					return []*audit.Event{e}
				}
			}
			headAt := func(seq int64, blank bool) func(h audit.Head) audit.Head {
				return func(h audit.Head) audit.Head {
					h.Seq, h.Hash = seq, hashes[seq]
					if blank {
						h.MAC = ""
					}
					return h
				}
			}
			for _, c := range []struct {
				name    string
				edit    func(e *audit.Event) []*audit.Event
				head    func(h audit.Head) audit.Head
				problem string // "seq: text" of one expected problem
			}{
				{"edited reason", func(e *audit.Event) []*audit.Event {
					if e.Seq == 3 {
						e.Reason = "nothing happened"
					}
					return []*audit.Event{e}
				}, nil, "3: hash does not match the content"},
				{"edited metadata", func(e *audit.Event) []*audit.Event {
					if e.Seq == 2 {
						e.Metadata["i"] = 99.0
					}
					return []*audit.Event{e}
				}, nil, "2: hash does not match the content"},
				{"edited time", func(e *audit.Event) []*audit.Event {
					if e.Seq == 5 {
						e.Time = e.Time.Add(-time.Hour)
					}
					return []*audit.Event{e}
				}, nil, "5: hash does not match the content"},
				{"deleted middle event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 3 {
						return nil
					}
					return []*audit.Event{e}
				}, nil, "4: sequence jumps from 2"},
				{"deleted last event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 7 {
						return nil
					}
					return []*audit.Event{e}
				}, nil, "7: the chain head says event 7 but the last event is 6"},
				{"deleted tail, head moved back", before(5), headAt(4, false),
					"4: the chain head (event 4) does not match its MAC: the head was altered, and events after 4 may have been deleted"},
				{"deleted everything, head at 0", before(1), headAt(0, false),
					"0: the chain head (event 0) does not match its MAC"},
				{"head MAC blanked", keep, headAt(7, true),
					"7: the chain head (event 7) carries no MAC although event 1 authenticated it"},
				{"deleted tail, head moved back, MAC blanked", before(5), headAt(4, true),
					"4: the chain head (event 4) carries no MAC although event 1 authenticated it"},
				{"head MAC of another head", keep, func(h audit.Head) audit.Head {
					h.MAC, _ = audit.HeadMAC(storetest.ChainKey, 6, hashes[6])
					return h
				}, "7: the chain head (event 7) does not match its MAC"},
				{"inserted event", func(e *audit.Event) []*audit.Event {
					if e.Seq == 4 {
						return []*audit.Event{forge(t, 4, third.Hash), e}
					}
					return []*audit.Event{e}
				}, nil, "4: sequence jumps from 4"},
			} {
				t.Run(c.name, func(t *testing.T) {
					res, err := audit.Verify(ctx, tampered{st, c.edit, c.head}, storetest.ChainKey, nil)
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

			// What no check can tell from a new database: every event
			// deleted, the head reset and its MAC blanked. Verify passes but
			// says the head is not authenticated (docs/security.md).
			res, err = audit.Verify(ctx, tampered{st, before(1), headAt(0, true)}, storetest.ChainKey, nil)
			if err != nil || !res.OK() || !res.HeadUnauthenticated {
				t.Fatalf("emptied chain with a blank head: %+v, %v; want intact but not authenticated", res, err)
			}

			// An event inserted through the store but not chained to the head.
			err = st.InTx(ctx, func(ctx context.Context) error {
				head, err := st.AuditHead(ctx)
				if err != nil {
					return err
				}
				e := forge(t, head.Seq+1, third.Hash)
				mac, err := audit.HeadMAC(storetest.ChainKey, e.Seq, e.Hash)
				if err != nil {
					return err
				}
				return st.InsertAudit(ctx, mac, e)
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

// TestRecorderAuthenticatesHead: the first append over a head without a MAC
// records ActionHeadAuthenticated by the system in the same transaction, and
// only then; every append leaves the head with its MAC.
func TestRecorderAuthenticatesHead(t *testing.T) {
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			st := newStore(t)
			ctx := t.Context()
			rec := audit.NewRecorder(st, storetest.ChainKey)
			// Undone with its transaction: the head stays unauthenticated.
			err := st.InTx(ctx, func(ctx context.Context) error {
				if err := rec.Record(ctx, audit.Event{Action: "user.created"}); err != nil {
					return err
				}
				return errors.New("undo")
			})
			if err == nil || len(stored(t, st)) != 0 {
				t.Fatalf("undone record: %v, events %v", err, stored(t, st))
			}
			userCtx := audit.WithActor(ctx, audit.Ref{Type: audit.TypeUser, ID: "usr_1"})
			record(t, st, 1)
			if err := rec.Record(userCtx, audit.Event{Action: "user.updated"}); err != nil {
				t.Fatal(err)
			}
			var got []string
			_ = st.ScanAudit(ctx, 0, func(e *audit.Event) error {
				got = append(got, fmt.Sprintf("%d %s %s/%s", e.Seq, e.Action, e.Actor.Type, e.Actor.ID))
				return nil
			})
			want := []string{"1 audit.head_authenticated system/gatehouse", "2 user.updated system/gatehouse", "3 user.updated user/usr_1"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var head audit.Head
			_ = st.InTx(ctx, func(ctx context.Context) error { head, err = st.AuditHead(ctx); return err })
			mac, _ := audit.HeadMAC(storetest.ChainKey, 3, head.Hash)
			if err != nil || head.Seq != 3 || head.MAC != mac {
				t.Fatalf("head %+v, %v; want seq 3 with MAC %s", head, err, mac)
			}
		})
	}
}

// TestVerifyEmptyChainWithValidHead: a chain without events whose head
// carries its MAC is intact and authenticated.
func TestVerifyEmptyChainWithValidHead(t *testing.T) {
	st := storetest.NewSQLite(t)
	mac, err := audit.HeadMAC(storetest.ChainKey, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	none := func(e *audit.Event) []*audit.Event { return []*audit.Event{e} }
	res, err := audit.Verify(t.Context(), tampered{st, none, func(h audit.Head) audit.Head { h.MAC = mac; return h }}, storetest.ChainKey, nil)
	if err != nil || !res.OK() || res.Events != 0 || res.HeadUnauthenticated {
		t.Fatalf("empty chain with a valid head: %+v, %v", res, err)
	}
}

// TestHeadMAC pins the construction (decisions.md #30), so a change to it
// is a deliberate one: chains written before would no longer verify.
func TestHeadMAC(t *testing.T) {
	got, err := audit.HeadMAC([]byte("0123456789abcdef0123456789abcdef"), 139, strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	hk, err := hkdf.Key(sha256.New, []byte("0123456789abcdef0123456789abcdef"), nil, "gatehouse audit head v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, hk)
	m.Write([]byte{0, 0, 0, 0, 0, 0, 0, 139, 0, 0, 0, 0, 0, 0, 0, 64})
	m.Write([]byte(strings.Repeat("ab", 32)))
	if want := hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("HeadMAC = %s, want %s", got, want)
	}
	for _, other := range []struct {
		seq  int64
		hash string
	}{{138, strings.Repeat("ab", 32)}, {139, strings.Repeat("ab", 31) + "ac"}, {0, ""}} {
		if h, _ := audit.HeadMAC([]byte("0123456789abcdef0123456789abcdef"), other.seq, other.hash); h == got {
			t.Errorf("HeadMAC(%d, %q) equals HeadMAC(139, …)", other.seq, other.hash)
		}
	}
	if _, err := audit.HeadMAC([]byte("short"), 1, ""); err == nil {
		t.Error("HeadMAC with a 5-byte key did not fail")
	}
}
