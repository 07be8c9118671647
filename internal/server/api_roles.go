package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

type roleJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"` // effective, including inherited
	Own         []string `json:"own_permissions"`
	Inherits    []string `json:"inherits"`
	BuiltIn     bool     `json:"built_in"`
}

func toRoleJSON(snap *rbac.Snapshot, r rbac.Role) roleJSON {
	return roleJSON{Name: r.Name, Description: r.Description, Permissions: nonNil(snap.EffectivePermissions(r.Name)),
		Own: nonNil(r.Permissions), Inherits: nonNil(r.Inherits), BuiltIn: r.BuiltIn}
}

func (s *Server) handleListRoles(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	snap, err := s.rbac.Snapshot(r.Context())
	if err != nil {
		return err
	}
	roles := snap.Roles()
	items := make([]roleJSON, 0, len(roles))
	for _, x := range roles {
		items = append(items, toRoleJSON(snap, x))
	}
	encode(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type roleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	Inherits    []string `json:"inherits"`
}

func (s *Server) handleSaveRole(create bool) func(http.ResponseWriter, *http.Request, *rbac.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
		req, err := decode[roleRequest](r)
		if err != nil {
			return err
		}
		if !create {
			if req.Name != "" && req.Name != r.PathValue("name") {
				return apperr.InvalidField("name", "must match the name in the path (roles cannot be renamed)")
			}
			req.Name = r.PathValue("name")
		}
		role, err := s.rbac.SaveRole(r.Context(), rbac.Role{Name: req.Name, Description: req.Description, Permissions: req.Permissions, Inherits: req.Inherits}, create)
		if err != nil {
			return err
		}
		snap, err := s.rbac.Snapshot(r.Context())
		if err != nil {
			return err
		}
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		encode(w, status, toRoleJSON(snap, role))
		return nil
	}
}

func (s *Server) handleDeleteRole(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	if err := s.rbac.DeleteRole(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListPermissions(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	snap, err := s.rbac.Snapshot(r.Context())
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]any{"items": nonNil(snap.AllPermissions())})
	return nil
}

type groupJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
	BuiltIn     bool     `json:"built_in"`
}

func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	snap, err := s.rbac.Snapshot(r.Context())
	if err != nil {
		return err
	}
	groups := snap.Groups()
	items := make([]groupJSON, 0, len(groups))
	for _, g := range groups {
		items = append(items, groupJSON{Name: g.Name, Description: g.Description, Roles: nonNil(g.Roles), BuiltIn: g.BuiltIn})
	}
	encode(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type groupRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
}

func (s *Server) handleSaveGroup(create bool) func(http.ResponseWriter, *http.Request, *rbac.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
		req, err := decode[groupRequest](r)
		if err != nil {
			return err
		}
		if !create {
			if req.Name != "" && req.Name != r.PathValue("name") {
				return apperr.InvalidField("name", "must match the name in the path (groups cannot be renamed)")
			}
			req.Name = r.PathValue("name")
		}
		g, err := s.rbac.SaveGroup(r.Context(), rbac.Group{Name: req.Name, Description: req.Description, Roles: req.Roles}, create)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		encode(w, status, groupJSON{Name: g.Name, Description: g.Description, Roles: nonNil(g.Roles), BuiltIn: g.BuiltIn})
		return nil
	}
}

func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	if err := s.rbac.DeleteGroup(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
