package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/user"
)

var errNotFound = apperr.NotFound(apperr.CodeNotFound, "no such resource; see docs/openapi.yaml for the routes")

// userJSON is the wire shape of a user (SPEC Appendix A).
type userJSON struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Email       *string    `json:"email"`
	DisplayName string     `json:"display_name"`
	Status      string     `json:"status"`
	Roles       []string   `json:"roles"`
	Groups      []string   `json:"groups"`
	MFA         mfaJSON    `json:"mfa"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
	LockedUntil *time.Time `json:"locked_until"`
	// ActivationToken is present only in the response creating a pending user.
	ActivationToken string `json:"activation_token,omitempty"`
}

type mfaJSON struct {
	TOTP bool `json:"totp"`
}

func toUserJSON(u *user.User) userJSON {
	out := userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Status: string(u.Status),
		Roles: nonNil(u.Roles), Groups: nonNil(u.Groups), MFA: mfaJSON{TOTP: u.TOTPEnabled},
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt, LockedUntil: u.LockedUntil}
	if u.Email != "" {
		e := u.Email
		out.Email = &e
	}
	return out
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	users, err := s.users.List(r.Context(), user.ListQuery{Q: q.Get("q"), Status: user.Status(q.Get("status")), Limit: limit + 1, After: after})
	if err != nil {
		return err
	}
	users, next := nextPage(users, limit, func(u *user.User) string { return u.UsernameKey })
	items := make([]userJSON, 0, len(users))
	for _, u := range users {
		items = append(items, toUserJSON(u))
	}
	encode(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

type createUserRequest struct {
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Password    *string  `json:"password"`
	Roles       []string `json:"roles"`
	Groups      []string `json:"groups"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[createUserRequest](r)
	if err != nil {
		return err
	}
	if req.Username == "" {
		return apperr.InvalidField("username", "is required")
	}
	u, token, err := s.users.Create(r.Context(), user.NewUser{Username: req.Username, Email: req.Email, DisplayName: req.DisplayName,
		Password: req.Password, Roles: req.Roles, Groups: req.Groups})
	if err != nil {
		return err
	}
	out := toUserJSON(u)
	out.ActivationToken = token
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	encode(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	u, err := s.users.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type updateUserRequest struct {
	Email       *string `json:"email"`
	DisplayName *string `json:"display_name"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[updateUserRequest](r)
	if err != nil {
		return err
	}
	u, err := s.users.Update(r.Context(), r.PathValue("id"), user.Patch{Email: req.Email, DisplayName: req.DisplayName})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	if err := s.users.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type rolesRequest struct {
	Roles []string `json:"roles"`
}

func (r rolesRequest) Valid() error {
	if r.Roles == nil {
		return apperr.InvalidField("roles", "is required (an empty list removes every role)")
	}
	return nil
}

func (s *Server) handleSetUserRoles(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[rolesRequest](r)
	if err != nil {
		return err
	}
	u, err := s.users.SetRoles(r.Context(), r.PathValue("id"), req.Roles)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type groupsRequest struct {
	Groups []string `json:"groups"`
}

func (r groupsRequest) Valid() error {
	if r.Groups == nil {
		return apperr.InvalidField("groups", "is required (an empty list removes every group)")
	}
	return nil
}

func (s *Server) handleSetUserGroups(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[groupsRequest](r)
	if err != nil {
		return err
	}
	u, err := s.users.SetGroups(r.Context(), r.PathValue("id"), req.Groups)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

// handleUserAction serves disable, enable and unlock: no body, the user back.
func (s *Server) handleUserAction(fn func(ctx context.Context, id string) (*user.User, error)) func(http.ResponseWriter, *http.Request, *rbac.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
		u, err := fn(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, toUserJSON(u))
		return nil
	}
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (s *Server) handleSetUserPassword(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[passwordRequest](r)
	if err != nil {
		return err
	}
	if err := s.users.SetPassword(r.Context(), r.PathValue("id"), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleActivationToken(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	tok, exp, err := s.users.IssueActivation(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]any{"activation_token": tok, "expires_at": exp})
	return nil
}

type activateRequest struct {
	ActivationToken string `json:"activation_token"`
	Password        string `json:"password"`
}

func (s *Server) handleActivate() http.Handler {
	return api(func(w http.ResponseWriter, r *http.Request) error {
		req, err := decode[activateRequest](r)
		if err != nil {
			return err
		}
		if err := s.users.Activate(r.Context(), req.ActivationToken, req.Password); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *Server) handlePasswordPolicy() http.Handler {
	return api(func(w http.ResponseWriter, r *http.Request) error {
		p := s.users.Policy()
		encode(w, http.StatusOK, map[string]any{"min_length": p.MinLength, "max_length": p.MaxLength, "history": p.History,
			"rejects_username": true, "rejects_email": true, "composition_rules": false, "expiry": false})
		return nil
	})
}
