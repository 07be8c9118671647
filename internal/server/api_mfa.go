package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/user"
)

type otpRequest struct {
	OTP          string `json:"otp"`
	RecoveryCode string `json:"recovery_code"`
}

var errBadSecondFactor = apperr.Invalid("invalid_otp", "the one-time code is wrong, expired or already used").WithField("otp", "enter the current code from your authenticator app, or a recovery code")

// proveFactor checks a current TOTP code or a recovery code of the user, as
// an MFA attempt: it counts towards the MFA lockout, so a stolen access
// token cannot brute-force its way to removing MFA.
func (s *Server) proveFactor(r *http.Request, userID string, req otpRequest) error {
	if (req.OTP == "") == (req.RecoveryCode == "") {
		return apperr.InvalidField("otp", "send the current code (otp) or a recovery code (recovery_code)")
	}
	if err := s.users.BeginMFA(r.Context(), userID); errors.Is(err, user.ErrLocked) {
		return apperr.RateLimited(apperr.CodeRateLimited, 0, "too many wrong codes; the account's second factor is locked for a while")
	} else if err != nil {
		return err
	}
	var ok bool
	var err error
	if req.OTP != "" {
		ok, err = s.mfa.Verify(r.Context(), userID, req.OTP)
	} else {
		ok, err = s.mfa.VerifyRecovery(r.Context(), userID, req.RecoveryCode)
	}
	if err != nil {
		return err
	}
	if err := s.users.EndMFA(r.Context(), userID, ok); err != nil {
		return err
	}
	if !ok {
		_ = s.audit.Record(r.Context(), audit.Event{Action: "auth.mfa.verify", Target: audit.Ref{Type: audit.TypeUser, ID: userID},
			Outcome: audit.OutcomeFailure, Reason: "invalid_otp"})
		return errBadSecondFactor
	}
	return nil
}

// proveOwnFactor reads {otp | recovery_code} from the body and checks it
// against the calling user's second factor.
func (s *Server) proveOwnFactor(r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has a second factor")
	}
	req, err := decode[otpRequest](r)
	if err != nil {
		return err
	}
	return s.proveFactor(r, p.UserID, req)
}

// handleBeginTOTP starts a TOTP enrolment. Replacing a confirmed one needs a
// current code (or a recovery code) in the body.
func (s *Server) handleBeginTOTP(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user enrols a second factor")
	}
	u, err := s.users.Get(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	enrolled, err := s.mfa.Enrolled(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if enrolled {
		req, err := decode[otpRequest](r)
		if err != nil {
			return apperr.Conflict("mfa_already_enrolled", "TOTP is already enrolled; to replace it send the current code as {\"otp\"} (or {\"recovery_code\"})")
		}
		if err := s.proveFactor(r, u.ID, req); err != nil {
			return err
		}
		if err := s.mfa.Remove(r.Context(), u.ID); err != nil {
			return err
		}
		if err := s.oauth.RevokeAllSessions(r.Context(), u.ID, p.SessionID, "mfa_changed"); err != nil {
			return err
		}
	}
	e, err := s.mfa.Begin(r.Context(), u.ID, u.Username)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauth_uri": e.URI, "qr_png": base64.StdEncoding.EncodeToString(e.QRPNG)})
	return nil
}

// handleConfirmTOTP activates the pending enrolment and returns the recovery
// codes, once. Any MFA change ends the user's other sessions.
func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user enrols a second factor")
	}
	req, err := decode[otpRequest](r)
	if err != nil {
		return err
	}
	if req.OTP == "" {
		return apperr.InvalidField("otp", "enter the code your authenticator app shows")
	}
	codes, err := s.mfa.Confirm(r.Context(), p.UserID, req.OTP)
	if err != nil {
		return err
	}
	if err := s.oauth.RevokeAllSessions(r.Context(), p.UserID, p.SessionID, "mfa_changed"); err != nil {
		return err
	}
	if p.Limit == rbac.LimitMFAEnrollment {
		s.consumeLimited(r, p, user.TokenMFAEnrollment)
	}
	encode(w, http.StatusOK, map[string]any{"recovery_codes": codes})
	return nil
}

// handleRemoveTOTP removes the enrolment after a current code.
func (s *Server) handleRemoveTOTP(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if err := s.proveOwnFactor(r, p); err != nil {
		return err
	}
	if err := s.mfa.Remove(r.Context(), p.UserID); err != nil {
		return err
	}
	if err := s.oauth.RevokeAllSessions(r.Context(), p.UserID, p.SessionID, "mfa_changed"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRegenerateRecovery replaces the recovery codes after a current code.
func (s *Server) handleRegenerateRecovery(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if err := s.proveOwnFactor(r, p); err != nil {
		return err
	}
	codes, err := s.mfa.RegenerateRecovery(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]any{"recovery_codes": codes})
	return nil
}

// handleResetUserMFA is the admin reset: the enrolment goes, every session ends.
func (s *Server) handleResetUserMFA(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	id := r.PathValue("id")
	if _, err := s.users.Get(r.Context(), id); err != nil {
		return err
	}
	if err := s.mfa.Reset(r.Context(), id, func(ctx context.Context) error {
		return s.oauth.RevokeAllSessions(ctx, id, "", "mfa_reset")
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
