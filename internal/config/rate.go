package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Rate is a rate limit of N events per Per, written "N/duration" (30/1m,
// 5/10s). The zero Rate, written "0", turns the limit off.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether the limit is turned off.
func (r Rate) Off() bool { return r.N == 0 }

// String returns r in the form ParseRate reads: "0" or "N/duration".
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	return strconv.Itoa(r.N) + "/" + formatDuration(r.Per)
}

// maxRateN bounds N so that a typo such as 1e9 of zeros is caught and no
// consumer's arithmetic on N can overflow.
const maxRateN = 1_000_000_000

// ParseRate reads "N/duration" (e.g. 30/1m, 5/10s, 100/1h) or "0", which turns
// the limit off ("0/1m" does too and gives the zero Rate). N must be a whole
// number from 0 to 1e9 and the duration positive. Errors show the expected
// form.
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
