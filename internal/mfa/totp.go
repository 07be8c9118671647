package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// The TOTP parameters of SPEC §6, the ones every common authenticator app
// supports: RFC 6238 with HMAC-SHA-1, 6 digits, 30-second steps.
const (
	period     = 30
	digits     = 6
	secretSize = 20 // bytes: 160 bits, the secret length RFC 4226 §4 (R6) recommends
	qrSize     = 256
)

// otpOpts are the options of every code this package computes.
var otpOpts = totp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// sealAD binds a sealed secret to its user.
func sealAD(userID string) string { return "totp:" + userID }

// Rewrap re-seals under the keyring's current master key every TOTP
// secret (of pending and confirmed enrolments) that is sealed under
// another, checking that each opens under the current key, in one
// transaction that joins the caller's. It returns how many it re-sealed
// (with opts.DryRun: how many need it, changing nothing). A pending
// enrolment re-sealed between its Begin and Confirm must be confirmed with
// a second code. A secret that opens under no key of the keyring fails it
// with a *secret.RewrapError; store errors are the store's.
func (s *Service) Rewrap(ctx context.Context, opts secret.RewrapOptions) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		n, err = s.keyring.RewrapStored(secret.StoredKind{
			What: "TOTP secret of user",
			List: func(after string, limit int) ([]secret.Stored, error) {
				return s.store.ListSealedTOTP(ctx, after, limit)
			},
			AD: sealAD,
			Update: func(v secret.Stored, fresh string) (bool, error) {
				return s.store.UpdateTOTPSealed(ctx, v.ID, v.Sealed, fresh)
			},
		}, opts)
		return err
	})
	return n, err
}

// Begin starts a TOTP enrolment, or restarts a pending one with a new
// secret: 20 random bytes sealed at rest, returned once as base32, as an
// otpauth URI (labelled Issuer:username) and as a QR code. The enrolment is
// inactive until Confirm. Conflict mfa_already_enrolled when a confirmed
// enrolment exists (Remove it first); NotFound user_not_found for an
// unknown user.
func (s *Service) Begin(ctx context.Context, userID, username string) (Enrollment, error) {
	raw := secret.RandomBytes(secretSize)
	sealed, err := s.keyring.Seal(raw, sealAD(userID))
	if err != nil {
		return Enrollment{}, apperr.Internal(fmt.Errorf("mfa: seal TOTP secret: %w", err))
	}
	if err := s.store.PutPendingTOTP(ctx, &TOTP{UserID: userID, SecretSealed: sealed, CreatedAt: s.now().UTC()}); err != nil {
		return Enrollment{}, err
	}
	account := username
	if account == "" {
		account = userID
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: account, Period: period,
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrollment{}, apperr.Internal(fmt.Errorf("mfa: otpauth URI: %w", err))
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, apperr.Internal(fmt.Errorf("mfa: QR code: %w", err))
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, apperr.Internal(fmt.Errorf("mfa: QR code: %w", err))
	}
	return Enrollment{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// Confirm activates the pending enrolment with a current code of its
// secret, sets user.User.TOTPEnabled, replaces the recovery codes with 10
// new ones and returns them (shown once; only their hashes are kept), and
// records auth.mfa.enroll, all in one transaction. The confirming code is
// used up: it cannot also complete a sign-in. Invalid invalid_otp (422)
// for a wrong, malformed or already used code; Conflict
// mfa_no_pending_enrollment without a pending enrolment and
// mfa_already_enrolled when it is already confirmed.
func (s *Service) Confirm(ctx context.Context, userID, code string) ([]string, error) {
	t, err := s.store.GetTOTP(ctx, userID)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, errNoPending
	} else if err != nil {
		return nil, err
	}
	if t.Confirmed {
		return nil, errAlreadyEnrolled
	}
	if !wellFormed(code) {
		return nil, errInvalidOTP
	}
	now := s.now().UTC()
	step, ok, err := s.match(t, code, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errInvalidOTP
	}
	codes, hashes := newRecoveryCodes()
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// Bound to the secret that was checked: a concurrent Begin that
		// replaced it, or a concurrent Confirm with the same code, loses.
		ok, err := s.store.ConfirmTOTP(ctx, userID, t.SecretSealed, step, now)
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidOTP
		}
		if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
			return err
		}
		if err := s.users.SetTOTPEnabled(ctx, userID, true); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "auth.mfa.enroll", Target: userRef(userID),
			Metadata: map[string]any{"factor": "totp", "change": "enrolled", "recovery_codes": len(codes)}})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// Verify checks a TOTP code of the user's confirmed enrolment: RFC 6238
// (SHA-1, 6 digits, 30 s) at the current step or up to Skew steps either
// side. A code is accepted once: the step it matched is recorded in the
// store atomically, and a code of that step or an earlier one is refused
// afterwards (a replay), on every instance. Anything but exactly six ASCII
// digits is false without a store access; so is a user without a confirmed
// enrolment. Errors are the store's (Unavailable, Internal) or a secret
// that does not open (Internal).
func (s *Service) Verify(ctx context.Context, userID, code string) (bool, error) {
	if !wellFormed(code) {
		return false, nil
	}
	t, err := s.store.GetTOTP(ctx, userID)
	if apperr.Is(err, apperr.KindNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !t.Confirmed {
		return false, nil
	}
	step, ok, err := s.match(t, code, s.now().UTC())
	if err != nil || !ok {
		return false, err
	}
	return s.store.UseTOTPStep(ctx, userID, step)
}

// wellFormed reports whether code is exactly six ASCII digits. Unicode
// digits (fullwidth, Arabic-Indic, …) are not: byte by byte they are not
// in '0'…'9'.
func wellFormed(code string) bool {
	if len(code) != digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// match returns the earliest step within ±skew of now, after t.LastStep,
// whose code equals code. Each candidate is computed with pquerna/otp and
// compared in constant time; the step is ours to know, for replay
// protection, which totp.ValidateCustom does not report.
func (s *Service) match(t *TOTP, code string, now time.Time) (int64, bool, error) {
	raw, err := s.keyring.Open(t.SecretSealed, sealAD(t.UserID))
	if err != nil {
		return 0, false, apperr.Internal(fmt.Errorf("mfa: open TOTP secret of %s: %w", t.UserID, err))
	}
	key := b32.EncodeToString(raw)
	cur := now.Unix() / period
	var found int64
	for step := cur - s.skew; step <= cur+s.skew; step++ {
		want, err := totp.GenerateCodeCustom(key, time.Unix(step*period, 0), otpOpts)
		if err != nil {
			return 0, false, apperr.Internal(fmt.Errorf("mfa: TOTP code: %w", err))
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > t.LastStep && found == 0 {
			found = step
		}
	}
	return found, found != 0, nil
}
