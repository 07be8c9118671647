package config

import "github.com/gatehouse/gatehouse/internal/ratelimit"

// Rate is a rate limit of N events per Per, written "N/duration" (30/1m,
// 5/10s). The zero Rate, written "0", turns the limit off. It is the
// limiter's own type, so a configured limit goes to the limiter as is.
type Rate = ratelimit.Rate

// ParseRate reads "N/duration" or "0" (ratelimit.ParseRate).
func ParseRate(s string) (Rate, error) { return ratelimit.ParseRate(s) }
