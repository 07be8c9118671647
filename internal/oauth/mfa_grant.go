package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/user"
)

// SecondFactor checks second factors; the mfa package implements it.
type SecondFactor interface {
	// Verify checks a TOTP code, once per time step (replays are false).
	Verify(ctx context.Context, userID, otp string) (bool, error)
	// VerifyRecovery consumes a single-use recovery code.
	VerifyRecovery(ctx context.Context, userID, code string) (bool, error)
}

var errBadMFAToken = InvalidGrant("the mfa_token is invalid, expired or already used; sign in with the password again")

// mfaGrant completes a sign-in that answered mfa_required (SPEC §5): the
// mfa_token (5 minutes, bound to the user and the client) plus a TOTP code
// or a recovery code. Failures count towards the MFA lockout bucket and the
// sign-in rate limits; the token is consumed by the first success.
func (s *Service) mfaGrant(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	if s.mfa == nil {
		return nil, oerr(400, ErrUnsupportedGrantType, "MFA is not available on this server")
	}
	client, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret, true)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(client.GrantTypes, GrantMFAOTP) && !slices.Contains(client.GrantTypes, GrantPassword) {
		return nil, UnauthorizedClient("this client may not use the MFA grant")
	}
	if req.MFAToken == "" || len(req.MFAToken) > 128 {
		return nil, InvalidRequest("mfa_token is required")
	}
	if (req.OTP == "") == (req.RecoveryCode == "") {
		return nil, InvalidRequest("send exactly one of otp and recovery_code")
	}
	now := s.now().UTC()
	hash := secret.Hash(req.MFAToken)
	t, err := s.userStore.GetOneTimeToken(ctx, hash, user.TokenMFA, now)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, errBadMFAToken
	} else if err != nil {
		return nil, FromAppErr(err)
	}
	if !secret.Equal(t.ClientID, client.ID) {
		return nil, errBadMFAToken
	}
	u, err := s.userStore.GetUser(ctx, t.UserID)
	if err != nil || !u.Status.CanUseTokens() {
		return nil, errBadMFAToken
	}
	ctx = audit.WithActor(ctx, audit.Ref{Type: audit.TypeUser, ID: u.ID})
	if err := s.checkLogin(ctx, u.Username); err != nil {
		return nil, s.mfaFailed(ctx, u, "rate_limited", FromAppErr(err))
	}
	if req.OTP != "" && !sixDigits(req.OTP) { // not a guess at any code: refused without counting
		return nil, s.mfaFailed(ctx, u, "malformed_otp", InvalidGrant("invalid one-time code"))
	}
	if err := s.users.BeginMFA(ctx, u.ID); errors.Is(err, user.ErrLocked) {
		return nil, s.mfaFailed(ctx, u, "locked", InvalidGrant("invalid one-time code"))
	} else if err != nil {
		return nil, FromAppErr(err)
	}
	var ok bool
	method := "otp"
	if req.OTP != "" {
		ok, err = s.mfa.Verify(ctx, u.ID, req.OTP)
	} else {
		method = "recovery_code"
		ok, err = s.mfa.VerifyRecovery(ctx, u.ID, req.RecoveryCode)
	}
	if err != nil {
		return nil, FromAppErr(err)
	}
	if err := s.users.EndMFA(ctx, u.ID, ok); err != nil {
		return nil, FromAppErr(err)
	}
	if !ok {
		return nil, s.mfaFailed(ctx, u, "invalid_"+method, InvalidGrant("invalid one-time code"))
	}
	if _, err := s.userStore.ConsumeOneTimeToken(ctx, hash, user.TokenMFA, now); err != nil {
		return nil, errBadMFAToken // used by a concurrent request
	}
	var data struct {
		Scope    []string `json:"scope"`
		Resource []string `json:"resource"`
	}
	_ = json.Unmarshal([]byte(t.Data), &data)
	aud, err := s.audience(data.Resource)
	if err != nil {
		return nil, err
	}
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return nil, FromAppErr(err)
	}
	roles, perms := snap.Resolve(u.Roles, u.Groups)
	if err := s.audit.Record(ctx, audit.Event{Action: "auth.mfa.verify", Target: userRef(u.ID), Metadata: map[string]any{"method": method, "client_id": client.ID}}); err != nil {
		return nil, FromAppErr(err)
	}
	return s.startSession(ctx, sessionStart{user: u, client: client, scopes: grantScope(data.Scope, perms, client.Scopes), aud: aud,
		roles: roles, amr: []string{"pwd", "otp"}})
}

func (s *Service) mfaFailed(ctx context.Context, u *user.User, reason string, answer error) error {
	if reason != "rate_limited" || s.refusals.Allow("mfa\x00"+u.ID, s.now()) {
		if err := s.audit.Record(ctx, audit.Event{Action: "auth.mfa.verify", Target: userRef(u.ID), Outcome: audit.OutcomeFailure, Reason: reason}); err != nil {
			return FromAppErr(err)
		}
	}
	return answer
}

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
