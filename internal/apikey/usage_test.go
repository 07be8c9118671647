package apikey_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apikey"
)

type counts = map[string]int64

func bucket(start time.Time, c counts) apikey.UsageBucket {
	return apikey.UsageBucket{Start: start, Counts: c}
}

// wantUsage checks the service's view of the key's usage.
func wantUsage(t *testing.T, e *env, id string, want apikey.Usage) {
	t.Helper()
	got, err := e.svc.Usage(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	want.KeyID = id
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Usage (-want +got):\n%s", d)
	}
}

func TestUsage(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		k, raw := e.create(t, apikey.NewKey{Permissions: []string{"documents:read"}})
		h0 := t0.Truncate(time.Hour)
		day := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
		for range 3 {
			wantCode(t, verify(t, e.svc, raw, "documents:read"), "")
		}
		wantCode(t, verify(t, e.svc, raw, "users:manage"), apikey.InsufficientPermissions)
		first := counts{apikey.OutcomeValid: 3, apikey.InsufficientPermissions: 1}
		wantFirst := apikey.Usage{Total: first, Hourly: []apikey.UsageBucket{bucket(h0, first)}, Daily: []apikey.UsageBucket{bucket(day, first)}}
		wantUsage(t, e, k.ID, wantFirst) // before any flush
		got, err := e.svc.Get(ctx, k.ID)
		if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(t0) {
			t.Fatalf("LastUsedAt before a flush = %v, %v", got.LastUsedAt, err)
		}
		if err := e.svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, e, k.ID, wantFirst)
		stored, err := e.st.GetKey(ctx, k.ID)
		if err != nil || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(t0) {
			t.Fatalf("stored LastUsedAt = %v, %v", stored.LastUsedAt, err)
		}

		// Next hour: unflushed counts join the stored ones.
		e.clock.advance(time.Hour)
		wantCode(t, verify(t, e.svc, raw), "")
		wantCode(t, verify(t, e.svc, raw), "")
		second := counts{apikey.OutcomeValid: 2}
		both := counts{apikey.OutcomeValid: 5, apikey.InsufficientPermissions: 1}
		want := apikey.Usage{Total: both, Hourly: []apikey.UsageBucket{bucket(h0, first), bucket(h0.Add(time.Hour), second)},
			Daily: []apikey.UsageBucket{bucket(day, both)}}
		wantUsage(t, e, k.ID, want)
		if err := e.svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, e, k.ID, want)
		if err := e.svc.Flush(ctx); err != nil { // nothing new: nothing changes
			t.Fatal(err)
		}
		wantUsage(t, e, k.ID, want)
		stored, err = e.st.GetKey(ctx, k.ID)
		if err != nil || !stored.LastUsedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("stored LastUsedAt = %v, %v", stored.LastUsedAt, err)
		}
		if _, err := e.svc.Usage(ctx, "key_none"); err == nil {
			t.Fatal("Usage of an unknown key succeeded")
		}
	})
}

func TestUsageAcrossHoursBeforeAFlush(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	k, raw := e.create(t, apikey.NewKey{})
	h0 := t0.Truncate(time.Hour)
	var hourly []apikey.UsageBucket
	// Three hours reuse one of the two hourly slots before any flush.
	for i := range 3 {
		for range i + 1 {
			wantCode(t, verify(t, e.svc, raw), "")
		}
		hourly = append(hourly, bucket(h0.Add(time.Duration(i)*time.Hour), counts{apikey.OutcomeValid: int64(i + 1)}))
		e.clock.advance(time.Hour)
	}
	day := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
	want := apikey.Usage{Total: counts{apikey.OutcomeValid: 6}, Hourly: hourly, Daily: []apikey.UsageBucket{bucket(day, counts{apikey.OutcomeValid: 6})}}
	wantUsage(t, e, k.ID, want)
	if err := e.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, e, k.ID, want)
}

func TestFailedFlushKeepsCounts(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	ctx := t.Context()
	k, raw := e.create(t, apikey.NewKey{Quota: ptr(int64(10))})
	for range 4 {
		wantCode(t, verify(t, e.svc, raw), "")
	}
	e.cs.failFlush.Store(true)
	if err := e.svc.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded on a failing store")
	}
	wantCode(t, verify(t, e.svc, raw), "")
	e.cs.failFlush.Store(false)
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := e.st.GetKey(ctx, k.ID)
	if err != nil || *stored.QuotaRemaining != 5 || stored.LastUsedAt == nil {
		t.Fatalf("stored key = quota %v last used %v, %v; want 5 left", *stored.QuotaRemaining, stored.LastUsedAt, err)
	}
	totals, err := e.st.UsageTotals(ctx, k.ID)
	if err != nil || totals[apikey.OutcomeValid] != 5 {
		t.Fatalf("stored totals = %v, %v; want 5 valid", totals, err)
	}
}

func TestRunFlushesAtShutdown(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	k, raw := e.create(t, apikey.NewKey{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	for range 7 {
		wantCode(t, verify(t, e.svc, raw), "")
	}
	cancel()
	<-done
	totals, err := e.st.UsageTotals(t.Context(), k.ID)
	if err != nil || totals[apikey.OutcomeValid] != 7 {
		t.Fatalf("stored totals after shutdown = %v, %v; want 7 valid", totals, err)
	}
}

func TestCountingOff(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	k, raw := e.create(t, apikey.NewKey{})
	e.svc.SetCounting(false)
	wantCode(t, verify(t, e.svc, raw), "")
	wantUsage(t, e, k.ID, apikey.Usage{Total: counts{}, Hourly: []apikey.UsageBucket{}, Daily: []apikey.UsageBucket{}})
}
