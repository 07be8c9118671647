package sdk

import "time"

// SetNow replaces the verifier's clock, for tests of expiry and caching.
func SetNow(v *Verifier, now func() time.Time) { v.now = now }
