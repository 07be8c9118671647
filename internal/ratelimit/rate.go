package ratelimit

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// maxRateN bounds N so that a typo is caught and the bucket arithmetic stays
// exact.
const maxRateN = 1_000_000_000

// ParseRate reads "N/duration" (30/1m, 5/10s, 100/1h, 1000/1d) or "0", which
// turns the limit off ("0/1m" does too and gives the zero Rate). N must be a
// whole number from 0 to 1e9 and the duration positive; a duration may also
// be a whole number of days. The configuration's GATEHOUSE_RATE_LIMIT_*
// values are read with it. Errors show the expected form.
func ParseRate(s string) (Rate, error) {
	const form = "use N/duration such as 30/1m or 5/10s, or 0 to turn the limit off"
	s = strings.TrimSpace(s)
	if s == "0" {
		return Rate{}, nil
	}
	ns, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, errors.New("not a rate; " + form)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || strings.HasPrefix(ns, "+") {
		return Rate{}, errors.New("the count before / is not a whole number; " + form)
	}
	if n < 0 || n > maxRateN {
		return Rate{}, errors.New("the count before / must be between 0 and 1000000000; " + form)
	}
	d, err := parseDuration(per)
	if err != nil || strings.TrimSpace(per) != per {
		return Rate{}, errors.New("the duration after / is not a duration; " + form)
	}
	if d <= 0 {
		return Rate{}, errors.New("the duration after / must be positive; " + form)
	}
	if n == 0 {
		return Rate{}, nil
	}
	return Rate{N: n, Per: d}, nil
}

// Off reports whether r is unlimited (N of 0).
func (r Rate) Off() bool { return r.N == 0 }

// String returns r in the form ParseRate reads: "0" or "N/duration".
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	s := r.Per.String() // compact: 15m, 1h30m, 10s rather than 15m0s
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return strconv.Itoa(r.N) + "/" + s
}

// parseDuration is time.ParseDuration plus whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= -106_751 && n <= 106_751 { // within time.Duration
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}
