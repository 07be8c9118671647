package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// appendEvent appends e to the chain as audit.Recorder does: head, link,
// hash, head MAC, insert, in one transaction.
func appendEvent(ctx context.Context, s *store.Store, e *audit.Event) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		head, err := s.AuditHead(ctx)
		if err != nil {
			return err
		}
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
		if e.Hash, err = audit.ChainHash(ChainKey, e); err != nil {
			return err
		}
		return s.InsertAudit(ctx, headMAC(e), e)
	})
}

// headMAC returns the MAC of the head at e.
func headMAC(e *audit.Event) string {
	mac, err := audit.HeadMAC(ChainKey, e.Seq, e.Hash)
	if err != nil {
		panic(err)
	}
	return mac
}

// readHead returns the head in a transaction of its own.
func readHead(t *testing.T, s *store.Store) audit.Head {
	t.Helper()
	var h audit.Head
	must(t, s.InTx(t.Context(), func(ctx context.Context) error {
		var err error
		h, err = s.AuditHead(ctx)
		return err
	}))
	return h
}

func eventFixture(i int, action string) *audit.Event {
	return &audit.Event{
		ID: fmt.Sprintf("evt_%04d", i), Time: t0.Add(time.Duration(i) * time.Second),
		Actor: audit.Ref{Type: audit.TypeUser, ID: fmt.Sprintf("usr_%d", i%3)}, Action: action,
		Target: audit.Ref{Type: audit.TypeClient, ID: fmt.Sprintf("app_%d", i%2)}, Outcome: audit.OutcomeSuccess,
		IP: "192.0.2.7", UserAgent: "ua", RequestID: fmt.Sprintf("req_%d", i),
	}
}

// seqs returns the Seq of each event.
func seqs(es []*audit.Event) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

var auditTests = []test{
	{"HeadAndAppend", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		if h := readHead(t, s); h != (audit.Head{}) {
			t.Fatalf("AuditHead of an empty log = %+v; want zero", h)
		}
		e := eventFixture(1, "user.created")
		e.Reason = "because"
		e.Metadata = map[string]any{"roles": []any{"admin"}, "n": 3, "big": int64(1) << 60, "s": "x"}
		must(t, appendEvent(ctx, s, e))
		e2 := eventFixture(2, "user.updated")
		must(t, appendEvent(ctx, s, e2))
		if h, want := readHead(t, s), (audit.Head{Seq: 2, Hash: e2.Hash, MAC: headMAC(e2)}); h != want {
			t.Fatalf("AuditHead = %+v; want %+v", h, want)
		}
		got, err := s.ListAudit(ctx, audit.Query{})
		must(t, err)
		if len(got) != 2 {
			t.Fatalf("ListAudit = %d events", len(got))
		}
		// Metadata comes back as JSON that encodes to the same bytes, so
		// the stored event still hashes to its Hash.
		wantMD, _ := json.Marshal(e.Metadata)
		gotMD, _ := json.Marshal(got[1].Metadata)
		if string(wantMD) != string(gotMD) {
			t.Fatalf("metadata %s came back as %s", wantMD, gotMD)
		}
		got[1].Metadata = e.Metadata
		if d := cmp.Diff(e, got[1]); d != "" {
			t.Fatalf("stored event (-want +got):\n%s", d)
		}
		if got[0].Metadata != nil {
			t.Fatalf("empty metadata came back as %v", got[0].Metadata)
		}
		res, err := audit.Verify(ctx, s, ChainKey, nil)
		must(t, err)
		if !res.OK() || res.Events != 2 {
			t.Fatalf("Verify = %+v", res)
		}
	}},
	{"InsertMustFollowHead", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		must(t, appendEvent(ctx, s, eventFixture(1, "a")))
		for _, seq := range []int64{1, 3} {
			e := eventFixture(9, "b")
			e.Seq, e.Hash = seq, "h"
			err := s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.AuditHead(ctx); err != nil {
					return err
				}
				return s.InsertAudit(ctx, "mac", e)
			})
			wantErr(t, err, apperr.KindInternal, "")
		}
		got, err := s.ListAudit(ctx, audit.Query{})
		must(t, err)
		if d := cmp.Diff([]int64{1}, seqs(got)); d != "" {
			t.Fatalf("events (-want +got):\n%s", d)
		}
	}},
	{"InsertSeveral", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		must(t, appendEvent(ctx, s, eventFixture(1, "a")))
		chain := func(seq int64, prev string, n int) []*audit.Event {
			var out []*audit.Event
			for i := range n {
				e := eventFixture(10*int(seq)+i, "token.issued")
				e.Seq, e.PrevHash = seq+int64(i), prev
				if i%2 == 0 {
					e.Metadata = map[string]any{"grant_type": "client_credentials", "i": i}
				}
				var err error
				if e.Hash, err = audit.ChainHash(ChainKey, e); err != nil {
					t.Fatal(err)
				}
				prev = e.Hash
				out = append(out, e)
			}
			return out
		}
		head := readHead(t, s).Hash
		// Refused as a whole: a gap inside, or not following the head.
		gap := chain(2, head, 3)
		gap[2].Seq = 5
		for _, events := range [][]*audit.Event{gap, chain(3, head, 2)} {
			err := s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.AuditHead(ctx); err != nil {
					return err
				}
				return s.InsertAudit(ctx, headMAC(events[len(events)-1]), events...)
			})
			wantErr(t, err, apperr.KindInternal, "")
		}
		events := chain(2, head, 5)
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			if _, err := s.AuditHead(ctx); err != nil {
				return err
			}
			return s.InsertAudit(ctx, headMAC(events[4]), events...)
		}))
		if h, want := readHead(t, s), (audit.Head{Seq: 6, Hash: events[4].Hash, MAC: headMAC(events[4])}); h != want {
			t.Fatalf("AuditHead = %+v; want %+v", h, want)
		}
		var got []*audit.Event
		must(t, s.ScanAudit(ctx, 1, func(e *audit.Event) error {
			got = append(got, e)
			return nil
		}))
		// What comes back hashes to what went in (metadata as JSON numbers).
		for _, e := range got {
			if h, err := audit.ChainHash(ChainKey, e); err != nil || h != e.Hash {
				t.Fatalf("event %d read back hashes to %q (%v), stored %q", e.Seq, h, err, e.Hash)
			}
		}
		if d := cmp.Diff(events, got, cmp.Transformer("meta", func(m map[string]any) string {
			b, _ := json.Marshal(m)
			return string(b)
		})); d != "" {
			t.Fatalf("events (-want +got):\n%s", d)
		}
		res, err := audit.Verify(ctx, s, ChainKey, nil)
		must(t, err)
		if !res.OK() || res.Events != 6 {
			t.Fatalf("Verify = %+v", res)
		}
	}},
	{"ConcurrentAppendsChain", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		errs := inParallel(20, func(i int) error {
			return appendEvent(ctx, s, eventFixture(i, "token.refreshed"))
		})
		for _, err := range errs {
			must(t, err)
		}
		var got []*audit.Event
		must(t, s.ScanAudit(ctx, 0, func(e *audit.Event) error {
			got = append(got, e)
			return nil
		}))
		prev := ""
		for i, e := range got {
			if e.Seq != int64(i+1) || e.PrevHash != prev {
				t.Fatalf("event %d: seq %d prev %q, want seq %d prev %q", i, e.Seq, e.PrevHash, i+1, prev)
			}
			prev = e.Hash
		}
		if len(got) != 20 {
			t.Fatalf("%d events, want 20", len(got))
		}
		res, err := audit.Verify(ctx, s, ChainKey, nil)
		must(t, err)
		if !res.OK() {
			t.Fatalf("Verify: %v", res.Problems)
		}
	}},
	{"HeadKeepsTheMACOfItsLastCommittedEvent", func(t *testing.T, s *store.Store) {
		// Members of a group that fail after appending leave the head, and
		// its MAC, where the last member that succeeded put it.
		ctx := t.Context()
		errs := inParallel(24, func(i int) error {
			return s.InTx(ctx, func(ctx context.Context) error {
				if err := appendEvent(ctx, s, eventFixture(i, "token.refreshed")); err != nil {
					return err
				}
				if i%3 == 0 {
					return errSentinel
				}
				return nil
			})
		})
		for i, err := range errs {
			if i%3 == 0 && err != errSentinel || i%3 != 0 && err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		var last *audit.Event
		must(t, s.ScanAudit(ctx, 0, func(e *audit.Event) error { last = e; return nil }))
		if last == nil || last.Seq != 16 {
			t.Fatalf("last event %+v, want seq 16", last)
		}
		if h, want := readHead(t, s), (audit.Head{Seq: last.Seq, Hash: last.Hash, MAC: headMAC(last)}); h != want {
			t.Fatalf("AuditHead = %+v; want %+v", h, want)
		}
		res, err := audit.Verify(ctx, s, ChainKey, nil)
		must(t, err)
		if !res.OK() || res.HeadUnauthenticated {
			t.Fatalf("Verify = %+v", res)
		}
		// A failing first append leaves the row as it was.
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := appendEvent(ctx, s, eventFixture(99, "a")); err != nil {
				return err
			}
			return errSentinel
		})
		if err != errSentinel {
			t.Fatalf("InTx = %v", err)
		}
		if h := readHead(t, s); h.Seq != 16 || h.MAC != headMAC(last) {
			t.Fatalf("AuditHead after an undone append = %+v", h)
		}
	}},
	{"ListFilters", testListAudit},
	{"Scan", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		const n = 1234 // more than one batch
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			for i := 1; i <= n; i++ {
				if err := appendEvent(ctx, s, eventFixture(i, "a")); err != nil {
					return err
				}
			}
			return nil
		}))
		for _, after := range []int64{0, 1, 499, 500, 501, n - 1, n} {
			next := after + 1
			must(t, s.ScanAudit(ctx, after, func(e *audit.Event) error {
				if e.Seq != next {
					return fmt.Errorf("got seq %d, want %d", e.Seq, next)
				}
				next++
				return nil
			}))
			if next != n+1 {
				t.Fatalf("ScanAudit(%d) stopped before %d", after, next)
			}
		}
		calls := 0
		err := s.ScanAudit(ctx, 0, func(*audit.Event) error {
			calls++
			if calls == 3 {
				return errSentinel
			}
			return nil
		})
		if err != errSentinel || calls != 3 {
			t.Fatalf("ScanAudit = %v after %d calls, want fn's error after 3", err, calls)
		}
		// fn may use the store, inside a transaction too.
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ScanAudit(ctx, n-2, func(e *audit.Event) error {
				_, err := s.ListAudit(ctx, audit.Query{Limit: 1})
				return err
			})
		}))
	}},
}

func testListAudit(t *testing.T, s *store.Store) {
	ctx := t.Context()
	actions := []string{"client.created", "user.created", "client.deleted", "clients.x", "token.issued", "client.updated"}
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		for i := 1; i <= 12; i++ {
			e := eventFixture(i, actions[(i-1)%len(actions)])
			if i%4 == 0 {
				e.Outcome = audit.OutcomeFailure
			}
			if err := appendEvent(ctx, s, e); err != nil {
				return err
			}
		}
		return nil
	}))
	// Event i: action actions[(i-1)%6], actor usr_{i%3}, target app_{i%2},
	// time t0+i s, failure when i%4 == 0.
	for _, tc := range []struct {
		name string
		q    audit.Query
		want []int64
	}{
		{"all newest first", audit.Query{}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"limit", audit.Query{Limit: 3}, []int64{12, 11, 10}},
		{"cursor", audit.Query{Limit: 3, BeforeSeq: 10}, []int64{9, 8, 7}},
		{"cursor at start", audit.Query{BeforeSeq: 2}, []int64{1}},
		{"action exact", audit.Query{Action: "client.created"}, []int64{7, 1}},
		{"action prefix", audit.Query{Action: "client.*"}, []int64{12, 9, 7, 6, 3, 1}},
		{"action prefix is literal", audit.Query{Action: "clien_.*"}, nil},
		{"actor", audit.Query{ActorID: "usr_0"}, []int64{12, 9, 6, 3}},
		{"target", audit.Query{TargetID: "app_1", Limit: 2}, []int64{11, 9}},
		{"outcome", audit.Query{Outcome: audit.OutcomeFailure}, []int64{12, 8, 4}},
		{"since until", audit.Query{Since: t0.Add(3 * time.Second), Until: t0.Add(6 * time.Second)}, []int64{5, 4, 3}},
		{"combined", audit.Query{Action: "client.*", ActorID: "usr_0", Outcome: audit.OutcomeSuccess}, []int64{9, 6, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.q)
			must(t, err)
			if d := cmp.Diff(tc.want, seqs(got)); d != "" {
				t.Fatalf("ListAudit(%+v) (-want +got):\n%s", tc.q, d)
			}
		})
	}
}
