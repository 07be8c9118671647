package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/store"
)

// apiKeyFixture returns an active key of owner with every optional field set.
func apiKeyFixture(id, owner, hash string) *apikey.Key {
	return &apikey.Key{
		ID: id, Name: "key " + id, Prefix: "kx_live", Hint: "kx_live_AbC1", OwnerID: owner,
		Permissions: []string{"documents:read", "reviews:read"},
		Metadata:    map[string]string{"env": "prod", "team": "reviews"},
		ExpiresAt:   ptr(t0.Add(30 * 24 * time.Hour)),
		RateLimit:   &apikey.Limit{Limit: 100, Window: 90 * time.Second},
		Quota:       ptr(int64(1000)), QuotaRemaining: ptr(int64(1000)),
		Status:    apikey.StatusActive,
		CreatedAt: t0, UpdatedAt: t0,
		Hash: hash,
	}
}

// minimalKey returns an active key of owner with no optional field.
func minimalKey(id, owner, hash string, created time.Time) *apikey.Key {
	return &apikey.Key{ID: id, Name: id, Prefix: "gk", Hint: "gk_0000", OwnerID: owner,
		Status: apikey.StatusActive, CreatedAt: created, UpdatedAt: created, Hash: hash}
}

var apiKeyTests = []test{
	{"CreateAndGet", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		full := apiKeyFixture("key_1", "usr_alice", "h1")
		full.LastUsedAt, full.RevokedAt, full.Status = ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Hour)), apikey.StatusRevoked
		full.PrevHash, full.PrevExpiresAt = "h0", ptr(t0.Add(24*time.Hour))
		bare := minimalKey("key_2", "usr_alice", "h2", t0)
		for _, k := range []*apikey.Key{full, bare} {
			must(t, s.CreateKey(ctx, k))
			got, err := s.GetKey(ctx, k.ID)
			must(t, err)
			if d := cmp.Diff(k, got); d != "" {
				t.Fatalf("GetKey %s (-want +got):\n%s", k.ID, d)
			}
		}
	}},
	{"CreateErrors", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, s.CreateKey(ctx, minimalKey("key_1", "usr_none", "h1", t0)), apperr.KindNotFound, apperr.CodeUserNotFound)
		createUsers(t, s, "alice")
		must(t, s.CreateKey(ctx, minimalKey("key_1", "usr_alice", "h1", t0)))
		wantErr(t, s.CreateKey(ctx, minimalKey("key_1", "usr_alice", "h2", t0)), apperr.KindConflict, apikey.CodeKeyExists)
		wantErr(t, s.CreateKey(ctx, minimalKey("key_2", "usr_alice", "h1", t0)), apperr.KindConflict, apikey.CodeKeyExists)
		_, err := s.GetKey(ctx, "key_none")
		wantErr(t, err, apperr.KindNotFound, apikey.CodeKeyNotFound)
	}},
	{"GetKeyByHash", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		k := minimalKey("key_1", "usr_alice", "new", t0)
		k.PrevHash, k.PrevExpiresAt = "old", ptr(t0.Add(time.Hour))
		must(t, s.CreateKey(ctx, k))
		must(t, s.CreateKey(ctx, minimalKey("key_2", "usr_alice", "other", t0)))
		for _, tc := range []struct {
			hash string
			now  time.Time
			want string // key id, "" for NotFound
		}{
			{"new", t0, "key_1"},
			{"new", t0.Add(48 * time.Hour), "key_1"},
			{"old", t0, "key_1"},
			{"old", t0.Add(time.Hour - time.Microsecond), "key_1"},
			{"old", t0.Add(time.Hour), ""},
			{"other", t0, "key_2"},
			{"none", t0, ""},
			{"", t0, ""},
		} {
			got, err := s.GetKeyByHash(ctx, tc.hash, tc.now)
			if tc.want == "" {
				wantErr(t, err, apperr.KindNotFound, apikey.CodeKeyNotFound)
				continue
			}
			must(t, err)
			if got.ID != tc.want {
				t.Errorf("GetKeyByHash(%q, %v) = %s, want %s", tc.hash, tc.now, got.ID, tc.want)
			}
		}
	}},
	{"ListKeys", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		must(t, s.CreateKey(ctx, minimalKey("key_b", "usr_alice", "h1", t0.Add(2*time.Second))))
		must(t, s.CreateKey(ctx, minimalKey("key_a", "usr_bob", "h2", t0.Add(time.Second))))
		must(t, s.CreateKey(ctx, minimalKey("key_c", "usr_alice", "h3", t0)))
		ids := func(owner string) []string { return keyIDs(t, s, apikey.ListQuery{OwnerID: owner}) }
		if d := cmp.Diff([]string{"key_c", "key_b"}, ids("usr_alice")); d != "" {
			t.Errorf("alice's keys (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"key_c", "key_a", "key_b"}, ids("")); d != "" {
			t.Errorf("all keys (-want +got):\n%s", d)
		}
		if got := ids("usr_none"); got != nil {
			t.Errorf("keys of nobody = %v", got)
		}
		// Pages, with a tie on created_at broken by id.
		must(t, s.CreateKey(ctx, minimalKey("key_d", "usr_alice", "h4", t0)))
		pages := keysetPages(t, 10, func(afterCreated time.Time, afterID string) ([]*apikey.Key, error) {
			return s.ListKeys(ctx, apikey.ListQuery{Limit: 2, AfterCreated: afterCreated, AfterID: afterID})
		}, keyKey)
		if d := cmp.Diff([][]string{{"key_c", "key_d"}, {"key_a", "key_b"}}, pages); d != "" {
			t.Errorf("pages (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"key_d", "key_b"}, keyIDs(t, s, apikey.ListQuery{OwnerID: "usr_alice", AfterCreated: t0, AfterID: "key_c"})); d != "" {
			t.Errorf("alice's keys after key_c (-want +got):\n%s", d)
		}
	}},
	{"ListKeysPages", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		// Seven keys, three sharing one created_at, the owners interleaved.
		for i, k := range []struct {
			id, owner string
			at        time.Duration
		}{
			{"key_g", "usr_alice", 0}, {"key_c", "usr_bob", 0}, {"key_e", "usr_alice", 0},
			{"key_a", "usr_alice", time.Second}, {"key_f", "usr_bob", 2 * time.Second},
			{"key_b", "usr_alice", 3 * time.Second}, {"key_d", "usr_alice", 3 * time.Second},
		} {
			must(t, s.CreateKey(ctx, minimalKey(k.id, k.owner, fmt.Sprint("h", i), t0.Add(k.at))))
		}
		for _, c := range []struct {
			owner string
			limit int
			want  [][]string
		}{
			{"", 2, [][]string{{"key_c", "key_e"}, {"key_g", "key_a"}, {"key_f", "key_b"}, {"key_d"}}},
			{"", 3, [][]string{{"key_c", "key_e", "key_g"}, {"key_a", "key_f", "key_b"}, {"key_d"}}},
			{"usr_alice", 2, [][]string{{"key_e", "key_g"}, {"key_a", "key_b"}, {"key_d"}}},
			{"usr_alice", 1, [][]string{{"key_e"}, {"key_g"}, {"key_a"}, {"key_b"}, {"key_d"}}},
			{"usr_bob", 1, [][]string{{"key_c"}, {"key_f"}}},
		} {
			pages := keysetPages(t, len(c.want), func(afterCreated time.Time, afterID string) ([]*apikey.Key, error) {
				return s.ListKeys(ctx, apikey.ListQuery{OwnerID: c.owner, Limit: c.limit, AfterCreated: afterCreated, AfterID: afterID})
			}, keyKey)
			if d := cmp.Diff(c.want, pages); d != "" {
				t.Errorf("owner %q by %d (-want +got):\n%s", c.owner, c.limit, d)
			}
		}
	}},
	{"UpdateKey", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.CreateKey(ctx, apiKeyFixture("key_1", "usr_alice", "h1")))
		must(t, s.CreateKey(ctx, minimalKey("key_2", "usr_alice", "h2", t0)))
		now := t0.Add(time.Hour)
		got, err := s.UpdateKey(ctx, "key_1", func(k *apikey.Key) error {
			k.PrevHash, k.PrevExpiresAt, k.Hash, k.Hint, k.UpdatedAt = k.Hash, ptr(now.Add(time.Hour)), "h1b", "kx_live_ZZZZ", now
			k.RateLimit, k.Quota, k.QuotaRemaining, k.Metadata, k.ExpiresAt = nil, nil, nil, nil, nil
			k.ID = "key_other" // ignored
			return nil
		})
		must(t, err)
		read, err := s.GetKey(ctx, "key_1")
		must(t, err)
		if d := cmp.Diff(got, read); d != "" {
			t.Fatalf("UpdateKey result vs GetKey (-returned +read):\n%s", d)
		}
		if read.Hash != "h1b" || read.PrevHash != "h1" || read.RateLimit != nil || read.Metadata != nil || read.ID != "key_1" {
			t.Fatalf("updated key = %+v", read)
		}
		_, err = s.UpdateKey(ctx, "key_1", func(k *apikey.Key) error { k.Hash = "h2"; return nil })
		wantErr(t, err, apperr.KindConflict, apikey.CodeKeyExists)
		_, err = s.UpdateKey(ctx, "key_1", func(k *apikey.Key) error { k.Name = "x"; return errSentinel })
		if err != errSentinel { //nolint:errorlint // fn's error must come back as is
			t.Fatalf("fn error = %v, want the sentinel as is", err)
		}
		_, err = s.UpdateKey(ctx, "key_none", func(*apikey.Key) error { return nil })
		wantErr(t, err, apperr.KindNotFound, apikey.CodeKeyNotFound)
		// Rolled back with the transaction.
		_ = s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.UpdateKey(ctx, "key_1", func(k *apikey.Key) error { k.Status = apikey.StatusRevoked; return nil })
			must(t, err)
			return errSentinel
		})
		read, err = s.GetKey(ctx, "key_1")
		must(t, err)
		if read.Status != apikey.StatusActive || read.Name != "key key_1" {
			t.Fatalf("after rollback: %+v", read)
		}
	}},
	{"FlushUsage", testFlushUsage},
	{"OwnerDeletionRemovesKeys", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		must(t, s.CreateKey(ctx, minimalKey("key_1", "usr_alice", "h1", t0)))
		must(t, s.FlushUsage(ctx, []apikey.UsageDelta{{KeyID: "key_1", LastUsedAt: ptr(t0),
			Counts: []apikey.UsageCount{{Start: t0, Outcome: apikey.OutcomeValid, N: 1}}}}))
		must(t, s.DeleteUser(ctx, "usr_alice"))
		_, err := s.GetKey(ctx, "key_1")
		wantErr(t, err, apperr.KindNotFound, apikey.CodeKeyNotFound)
		usage, err := s.ListUsage(ctx, "key_1", apikey.PeriodHour, time.Time{})
		must(t, err)
		if len(usage) != 0 {
			t.Fatalf("usage of a deleted key: %v", usage)
		}
	}},
}

// keyIDs lists the ids of the keys q selects.
func keyIDs(t *testing.T, s *store.Store, q apikey.ListQuery) []string {
	t.Helper()
	l, err := s.ListKeys(t.Context(), q)
	must(t, err)
	var out []string
	for _, k := range l {
		out = append(out, k.ID)
	}
	return out
}

func testFlushUsage(t *testing.T, s *store.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice")
	must(t, s.CreateKey(ctx, apiKeyFixture("key_q", "usr_alice", "h1")))
	must(t, s.CreateKey(ctx, minimalKey("key_u", "usr_alice", "h2", t0)))
	h := t0.Truncate(time.Hour)
	day := time.Date(h.Year(), h.Month(), h.Day(), 0, 0, 0, 0, time.UTC)
	c := func(start time.Time, o string, n int64) apikey.UsageCount {
		return apikey.UsageCount{Start: start, Outcome: o, N: n}
	}
	last := t0.Add(30 * time.Minute)
	must(t, s.FlushUsage(ctx, []apikey.UsageDelta{
		{KeyID: "key_q", LastUsedAt: &last, QuotaUsed: 990, Counts: []apikey.UsageCount{
			c(t0, apikey.OutcomeValid, 5), c(t0.Add(time.Hour), apikey.OutcomeValid, 2), c(t0, apikey.Revoked, 1)}},
		{KeyID: "key_u", QuotaUsed: 3, Counts: []apikey.UsageCount{c(t0, apikey.RateLimited, 4)}},
		{KeyID: "key_gone", LastUsedAt: &last, QuotaUsed: 1, Counts: []apikey.UsageCount{c(t0, apikey.OutcomeValid, 1)}},
	}))
	// A second batch adds to the same buckets; last_used_at only moves forward;
	// the quota stops at 0.
	must(t, s.FlushUsage(ctx, []apikey.UsageDelta{
		{KeyID: "key_q", LastUsedAt: ptr(t0), QuotaUsed: 20, Counts: []apikey.UsageCount{c(t0.Add(time.Minute), apikey.OutcomeValid, 1)}},
	}))
	must(t, s.FlushUsage(ctx, nil))
	q, err := s.GetKey(ctx, "key_q")
	must(t, err)
	if q.LastUsedAt == nil || !q.LastUsedAt.Equal(last) || q.QuotaRemaining == nil || *q.QuotaRemaining != 0 {
		t.Fatalf("key_q after flushes: last_used_at %v, quota_remaining %v", q.LastUsedAt, q.QuotaRemaining)
	}
	u, err := s.GetKey(ctx, "key_u")
	must(t, err)
	if u.LastUsedAt != nil || u.QuotaRemaining != nil {
		t.Fatalf("key_u after flushes: last_used_at %v, quota_remaining %v", u.LastUsedAt, u.QuotaRemaining)
	}
	hourly, err := s.ListUsage(ctx, "key_q", apikey.PeriodHour, time.Time{})
	must(t, err)
	want := []apikey.UsageCount{c(h, apikey.Revoked, 1), c(h, apikey.OutcomeValid, 6), c(h.Add(time.Hour), apikey.OutcomeValid, 2)}
	if d := cmp.Diff(want, hourly); d != "" {
		t.Errorf("hourly usage (-want +got):\n%s", d)
	}
	later, err := s.ListUsage(ctx, "key_q", apikey.PeriodHour, h.Add(time.Minute))
	must(t, err)
	if d := cmp.Diff(want[2:], later); d != "" {
		t.Errorf("hourly usage since the second hour (-want +got):\n%s", d)
	}
	daily, err := s.ListUsage(ctx, "key_q", apikey.PeriodDay, time.Time{})
	must(t, err)
	if d := cmp.Diff([]apikey.UsageCount{c(day, apikey.Revoked, 1), c(day, apikey.OutcomeValid, 8)}, daily); d != "" {
		t.Errorf("daily usage (-want +got):\n%s", d)
	}
	totals, err := s.UsageTotals(ctx, "key_q")
	must(t, err)
	if d := cmp.Diff(map[string]int64{apikey.OutcomeValid: 8, apikey.Revoked: 1}, totals); d != "" {
		t.Errorf("totals (-want +got):\n%s", d)
	}
	n, err := s.DeleteUsageBefore(ctx, apikey.PeriodHour, h.Add(time.Hour))
	must(t, err)
	if n != 3 { // key_q's two outcomes in the first hour, key_u's one
		t.Errorf("DeleteUsageBefore removed %d buckets, want 3", n)
	}
	daily, err = s.ListUsage(ctx, "key_u", apikey.PeriodDay, time.Time{})
	must(t, err)
	if d := cmp.Diff([]apikey.UsageCount{c(day, apikey.RateLimited, 4)}, daily); d != "" {
		t.Errorf("key_u daily usage after pruning hours (-want +got):\n%s", d)
	}
}

// keyKey is an API key's place in the keys list.
func keyKey(k *apikey.Key) (time.Time, string) { return k.CreatedAt, k.ID }
