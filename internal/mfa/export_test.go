package mfa

import "time"

// SetClock makes s read the time from now (tests of skew and replay).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// NormalizeRecoveryCode exposes normalizeRecoveryCode to the tests.
var NormalizeRecoveryCode = normalizeRecoveryCode
