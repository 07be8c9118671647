package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// TestParseRate: the forms GATEHOUSE_RATE_LIMIT_* settings take, and the
// messages a mistake gets.
func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    ratelimit.Rate
		wantErr string
	}{
		{"30/1m", ratelimit.Rate{N: 30, Per: time.Minute}, ""},
		{"5/10s", ratelimit.Rate{N: 5, Per: 10 * time.Second}, ""},
		{"100/1h30m", ratelimit.Rate{N: 100, Per: 90 * time.Minute}, ""},
		{"1000/1d", ratelimit.Rate{N: 1000, Per: 24 * time.Hour}, ""},
		{" 10/1m ", ratelimit.Rate{N: 10, Per: time.Minute}, ""},
		{"30/1m\n", ratelimit.Rate{N: 30, Per: time.Minute}, ""},
		{"0", ratelimit.Rate{}, ""},
		{"0/1m", ratelimit.Rate{}, ""},
		{"1000000000/1s", ratelimit.Rate{N: 1_000_000_000, Per: time.Second}, ""},
		{"", ratelimit.Rate{}, "not a rate"},
		{"30", ratelimit.Rate{}, "not a rate"},
		{"thirty per minute", ratelimit.Rate{}, "not a rate"},
		{"30/", ratelimit.Rate{}, "not a duration"},
		{"30/m", ratelimit.Rate{}, "not a duration"},
		{"30/1m/2", ratelimit.Rate{}, "not a duration"},
		{"30/1m\x00", ratelimit.Rate{}, "not a duration"},
		{"30/ 1m", ratelimit.Rate{}, "not a duration"},
		{"/1m", ratelimit.Rate{}, "not a whole number"},
		{"+1/1m", ratelimit.Rate{}, "not a whole number"},
		{"1.5/1m", ratelimit.Rate{}, "not a whole number"},
		{"30 / 1m", ratelimit.Rate{}, "not a whole number"},
		{"99999999999999999999/1m", ratelimit.Rate{}, "not a whole number"},
		{"-1/1m", ratelimit.Rate{}, "between 0 and"},
		{"1000000001/1m", ratelimit.Rate{}, "between 0 and"},
		{"30/0s", ratelimit.Rate{}, "must be positive"},
		{"30/-1m", ratelimit.Rate{}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ratelimit.ParseRate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRate(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "N/duration such as 30/1m") {
					t.Errorf("error %q does not show the expected form", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRateString(t *testing.T) {
	for r, want := range map[ratelimit.Rate]string{
		{}:                                   "0",
		{N: 30, Per: time.Minute}:            "30/1m",
		{N: 5, Per: 10 * time.Second}:        "5/10s",
		{N: 1000, Per: 24 * time.Hour}:       "1000/24h",
		{N: 2, Per: 90 * time.Minute}:        "2/1h30m",
		{N: 1, Per: 1500 * time.Millisecond}: "1/1.5s",
	} {
		if got := r.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", r, got, want)
		}
	}
}

// FuzzParseRate checks that ParseRate never panics, that what it accepts is
// off or a valid bucket (positive count up to 1e9 and positive period), and
// that String reads back equal.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"30/1m", "0", "5/10s", "1/1d", "-1/1m", "1/0s", "1/-1ns", "30/1m\r\n", "\x00/1m",
		"1/1m/1m", "9223372036854775807/1m", "1/106752d", "1/2562047h47m16.854775807s", "١/1m", "1/1µs", "",
		"0x10/1m", "1e3/1m", "10/1m\u00a0", "10/1\u2009m", "../1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			if r != (ratelimit.Rate{}) {
				t.Fatalf("ParseRate(%q) returned %v with error %v", s, r, err)
			}
			return
		}
		if r.Off() {
			if r != (ratelimit.Rate{}) {
				t.Fatalf("ParseRate(%q) = %#v, want the zero Rate when off", s, r)
			}
		} else if r.N < 1 || r.N > 1_000_000_000 || r.Per <= 0 {
			t.Fatalf("ParseRate(%q) = %#v, want a count in 1..1e9 and a positive period", s, r)
		}
		again, err := ratelimit.ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %#v, but its String %q reads back as %#v, %v", s, r, r.String(), again, err)
		}
	})
}
