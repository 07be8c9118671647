package user

import (
	"testing"
	"time"
)

func TestLockDurationDoublesUpTo24h(t *testing.T) {
	p := DefaultLockoutPolicy()
	cases := []struct {
		n    int
		want time.Duration
	}{{1, 15 * time.Minute}, {2, 30 * time.Minute}, {3, time.Hour}, {4, 2 * time.Hour}, {7, 16 * time.Hour}, {8, 24 * time.Hour}, {50, 24 * time.Hour}}
	for _, c := range cases {
		if got := p.lockDuration(c.n); got != c.want {
			t.Errorf("lock %d lasts %v, want %v", c.n, got, c.want)
		}
	}
}
