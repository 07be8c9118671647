package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    config.Rate
		wantErr string
	}{
		{"30/1m", config.Rate{N: 30, Per: time.Minute}, ""},
		{"5/10s", config.Rate{N: 5, Per: 10 * time.Second}, ""},
		{"100/1h30m", config.Rate{N: 100, Per: 90 * time.Minute}, ""},
		{"1000/1d", config.Rate{N: 1000, Per: 24 * time.Hour}, ""},
		{" 10/1m ", config.Rate{N: 10, Per: time.Minute}, ""},
		{"0", config.Rate{}, ""},
		{"0/1m", config.Rate{}, ""},
		{"", config.Rate{}, "not a rate"},
		{"30", config.Rate{}, "not a rate"},
		{"30/", config.Rate{}, "not a duration"},
		{"/1m", config.Rate{}, "not a whole number"},
		{"-1/1m", config.Rate{}, "between 0 and"},
		{"+1/1m", config.Rate{}, "not a whole number"},
		{"1.5/1m", config.Rate{}, "not a whole number"},
		{"99999999999/1m", config.Rate{}, "between 0 and"},
		{"99999999999999999999/1m", config.Rate{}, "not a whole number"},
		{"30/0s", config.Rate{}, "must be positive"},
		{"30/-1m", config.Rate{}, "must be positive"},
		{"30/m", config.Rate{}, "not a duration"},
		{"30/1m/2", config.Rate{}, "not a duration"},
		{"30 / 1m", config.Rate{}, "not a whole number"},
		{"thirty per minute", config.Rate{}, "not a rate"},
		{"30/1m\n", config.Rate{N: 30, Per: time.Minute}, ""},
		{"30/1m\x00", config.Rate{}, "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := config.ParseRate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRate(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "N/duration such as 30/1m") {
					t.Errorf("error %q does not show the expected form", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.Off() != (tt.want.N == 0) {
				t.Errorf("Off() = %v", got.Off())
			}
		})
	}
}

func TestRateString(t *testing.T) {
	for r, want := range map[config.Rate]string{
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
// off or has a positive count and period, and that String reads back equal.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"30/1m", "0", "5/10s", "1/1d", "-1/1m", "1/0s", "1/-1ns", "30/1m\r\n", "\x00/1m",
		"1/1m/1m", "9223372036854775807/1m", "1/106752d", "1/2562047h47m16.854775807s", "١/1m", "1/1µs", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := config.ParseRate(s)
		if err != nil {
			if r != (config.Rate{}) {
				t.Fatalf("ParseRate(%q) returned %v with error %v", s, r, err)
			}
			return
		}
		if !r.Off() && (r.N < 1 || r.Per <= 0) {
			t.Fatalf("ParseRate(%q) = %#v, want a positive count and period", s, r)
		}
		if r.Off() && r != (config.Rate{}) {
			t.Fatalf("ParseRate(%q) = %#v, want the zero Rate when off", s, r)
		}
		again, err := config.ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %#v, but its String %q reads back as %#v, %v", s, r, r.String(), again, err)
		}
	})
}
