package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestListPlansUseIndexes: the lists page by keyset (SPEC §9), so each page
// must be read from an index in list order, never by sorting the whole
// table (or all of one owner's rows), and a page after the first must seek
// to its start instead of scanning up to it.
func TestListPlansUseIndexes(t *testing.T) {
	// What a plan must not hold, and what the plan of a later page must hold.
	plans := map[string]struct{ sorts, seek []string }{
		store.EngineSQLite:   {sorts: []string{"TEMP B-TREE", "SCAN api_keys\n", "SCAN clients\n"}, seek: []string{"SEARCH", "(created_at,id)>"}},
		store.EnginePostgres: {sorts: []string{"Sort", "Seq Scan"}, seek: []string{"Index Cond", "created_at"}},
	}
	after := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			s := newStore(t)
			want := plans[engine]
			check := func(name, plan string, later bool) {
				t.Helper()
				plan += "\n"
				for _, bad := range want.sorts {
					if strings.Contains(plan, bad) {
						t.Errorf("%s: the plan holds %q:\n%s", name, strings.TrimSpace(bad), plan)
					}
				}
				if !later {
					return
				}
				for _, need := range want.seek {
					if !strings.Contains(plan, need) {
						t.Errorf("%s: the plan does not seek (no %q):\n%s", name, need, plan)
					}
				}
			}
			for _, c := range []struct {
				name string
				q    apikey.ListQuery
			}{
				{"every key", apikey.ListQuery{Limit: 3}},
				{"every key, later page", apikey.ListQuery{Limit: 3, AfterCreated: after, AfterID: "key_x"}},
				{"one owner's keys", apikey.ListQuery{OwnerID: "usr_a", Limit: 3}},
				{"one owner's keys, later page", apikey.ListQuery{OwnerID: "usr_a", Limit: 3, AfterCreated: after, AfterID: "key_x"}},
			} {
				plan, err := s.ExplainListKeys(t.Context(), c.q)
				if err != nil {
					t.Fatal(err)
				}
				check(c.name, plan, c.q.AfterID != "")
			}
			for name, afterID := range map[string]string{"clients": "", "clients, later page": "cli_x"} {
				plan, err := s.ExplainListClientsPage(t.Context(), 3, after, afterID)
				if err != nil {
					t.Fatal(err)
				}
				check(name, plan, afterID != "")
			}
		})
	}
}
