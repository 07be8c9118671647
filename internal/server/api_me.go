package server

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/user"
)

// consumeLimited spends the one-step token a limited principal came with.
func (s *Server) consumeLimited(r *http.Request, p *rbac.Principal, kind user.TokenKind) {
	_, _ = s.userStore.ConsumeOneTimeToken(r.Context(), p.TokenID, kind, time.Now().UTC())
}

func (s *Server) handleGetMe(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has a profile; this credential belongs to a %s", p.Kind)
	}
	u, err := s.users.Get(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type updateMeRequest struct {
	DisplayName     *string `json:"display_name"`
	Email           *string `json:"email"`
	CurrentPassword string  `json:"current_password"`
}

// handleUpdateMe changes the caller's own profile: display name, and email
// with the current password (user.Service.UpdateProfile).
func (s *Server) handleUpdateMe(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has a profile; this credential belongs to a %s", p.Kind)
	}
	req, err := decode[updateMeRequest](r)
	if err != nil {
		return err
	}
	u, err := s.users.UpdateProfile(r.Context(), p.UserID, user.Patch{Email: req.Email, DisplayName: req.DisplayName}, req.CurrentPassword)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleChangeMyPassword changes the caller's password. It also accepts the
// password_change_token of a first sign-in, which it consumes.
func (s *Server) handleChangeMyPassword(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has a password")
	}
	req, err := decode[changePasswordRequest](r)
	if err != nil {
		return err
	}
	if err := s.users.ChangePassword(r.Context(), p.UserID, req.CurrentPassword, req.NewPassword, p.SessionID); err != nil {
		return err
	}
	if p.Limit == rbac.LimitPasswordChange {
		s.consumeLimited(r, p, user.TokenPasswordChange)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionJSON struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, userID, current string) error {
	list, err := s.oauth.ListSessions(r.Context(), userID)
	if err != nil {
		return err
	}
	items := make([]sessionJSON, 0, len(list))
	for _, x := range list {
		items = append(items, sessionJSON{ID: x.ID, ClientID: x.ClientID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt,
			ExpiresAt: oauthMin(x), IP: x.IP, UserAgent: x.UserAgent, Current: current != "" && secret.Equal(x.ID, current)})
	}
	encode(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func oauthMin(x *oauth.Session) time.Time {
	if x.IdleExpiresAt.Before(x.ExpiresAt) {
		return x.IdleExpiresAt
	}
	return x.ExpiresAt
}

func (s *Server) handleListMySessions(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has sessions")
	}
	return s.listSessions(w, r, p.UserID, p.SessionID)
}

func (s *Server) handleRevokeMySession(w http.ResponseWriter, r *http.Request, p *rbac.Principal) error {
	if p.Kind != rbac.KindUser {
		return apperr.Forbidden(apperr.CodePermissionDenied, "only a user has sessions")
	}
	if err := s.oauth.RevokeSession(r.Context(), p.UserID, r.PathValue("sid"), "revoked_by_user"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListUserSessions(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	id := r.PathValue("id")
	if _, err := s.users.Get(r.Context(), id); err != nil {
		return err
	}
	return s.listSessions(w, r, id, "")
}

func (s *Server) handleRevokeUserSessions(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	id := r.PathValue("id")
	if _, err := s.users.Get(r.Context(), id); err != nil {
		return err
	}
	if err := s.oauth.RevokeAllSessions(r.Context(), id, "", "revoked_by_admin"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRevokeUserSession(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	if err := s.oauth.RevokeSession(r.Context(), r.PathValue("id"), r.PathValue("sid"), "revoked_by_admin"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
