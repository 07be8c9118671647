package mfa

import (
	"context"
	"encoding/base32"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Recovery codes: RecoveryCodeCount codes of 80 random bits each, written
// as four groups of four characters of Crockford's base32 alphabet
// ("7K3M-Q0ZD-X4AB-9TNC"), which has no I, L, O or U, so nothing reads as
// another symbol. Input is normalized before hashing: case, dashes and
// spaces do not matter, and I, L (→ 1) and O (→ 0) are read as the digits
// they resemble.
//
// They are stored as secret.Hash (SHA-256) of the normalized form, not with
// a slow password hash: with 80 random bits a code cannot be guessed from
// its hash in any feasible number of tries, so a salt and a work factor add
// nothing, and an unsalted hash lets the store find a code by an index
// lookup in one atomic, single-use statement.
const (
	RecoveryCodeCount = 10
	recoveryBytes     = 10 // 80 bits → 16 base32 characters
	recoveryLen       = 16
	maxRecoveryInput  = 64 // longer input is refused before any work
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var recoveryEnc = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// newRecoveryCodes returns RecoveryCodeCount fresh codes in their display
// form and the hashes to store.
func newRecoveryCodes() (codes, hashes []string) {
	codes = make([]string, RecoveryCodeCount)
	hashes = make([]string, RecoveryCodeCount)
	for i := range codes {
		c := recoveryEnc.EncodeToString(secret.RandomBytes(recoveryBytes))
		codes[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
		hashes[i] = secret.Hash(c)
	}
	return codes, hashes
}

// normalizeRecoveryCode returns the canonical form of a recovery code as a
// user may type it, and false when it cannot be one.
func normalizeRecoveryCode(code string) (string, bool) {
	if len(code) > maxRecoveryInput {
		return "", false
	}
	var b strings.Builder
	b.Grow(recoveryLen)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ' || c == '\t':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		if strings.IndexByte(crockford, c) < 0 || b.Len() == recoveryLen {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != recoveryLen {
		return "", false
	}
	return b.String(), true
}

// VerifyRecovery consumes one of the user's recovery codes: true once per
// code, false for an unknown, used or malformed code (a malformed one
// without a store access). Codes are looked up by the hash of their
// normalized form. The caller audits the attempt (auth.mfa.verify).
func (s *Service) VerifyRecovery(ctx context.Context, userID, code string) (bool, error) {
	n, ok := normalizeRecoveryCode(code)
	if !ok {
		return false, nil
	}
	return s.store.UseRecoveryCode(ctx, userID, secret.Hash(n), s.now().UTC())
}

// RegenerateRecovery replaces the user's recovery codes with 10 new ones
// (the old ones, used or not, stop working) and returns them, shown once;
// audited as auth.mfa.enroll with change "recovery_codes_regenerated".
// NotFound mfa_not_enrolled without a confirmed TOTP enrolment.
func (s *Service) RegenerateRecovery(ctx context.Context, userID string) ([]string, error) {
	codes, hashes := newRecoveryCodes()
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.GetTOTP(ctx, userID)
		if apperr.Is(err, apperr.KindNotFound) {
			return errNotEnrolled
		} else if err != nil {
			return err
		}
		if !t.Confirmed {
			return errNotEnrolled
		}
		if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "auth.mfa.enroll", Target: userRef(userID),
			Metadata: map[string]any{"factor": "totp", "change": "recovery_codes_regenerated", "recovery_codes": len(codes)}})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return s.store.CountRecoveryCodes(ctx, userID)
}
