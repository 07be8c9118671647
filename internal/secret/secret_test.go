package secret_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestTimeOrderedID(t *testing.T) {
	shape := regexp.MustCompile(`^evt_[0-9a-f]{32}$`)
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := secret.TimeOrderedID("evt", t0.Add(time.Duration(i)*time.Millisecond))
		if !shape.MatchString(id) {
			t.Fatalf("TimeOrderedID = %q, want the shape of RandomID", id)
		}
		if id <= prev {
			t.Fatalf("TimeOrderedID at +%d ms = %q, not after %q", i, id, prev)
		}
		prev = id
		seen[id] = true
	}
	// Within one millisecond ids still differ (80 random bits).
	for range 1000 {
		id := secret.TimeOrderedID("evt", t0)
		if seen[id] {
			t.Fatalf("TimeOrderedID repeated %q", id)
		}
		seen[id] = true
	}
	if got := secret.TimeOrderedID("evt", t0)[4:16]; got != "01a208ebc980" {
		t.Fatalf("time part = %s, want the big-endian milliseconds of %v", got, t0)
	}
}
