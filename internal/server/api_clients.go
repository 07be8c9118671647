package server

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

type clientJSON struct {
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	GrantTypes   []string  `json:"grant_types"`
	RedirectURIs []string  `json:"redirect_uris"`
	Scopes       []string  `json:"scopes"`
	BuiltIn      bool      `json:"built_in"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toClientJSON(c *oauth.Client) clientJSON {
	return clientJSON{ClientID: c.ID, Name: c.Name, Type: string(c.Type), GrantTypes: nonNil(c.GrantTypes),
		RedirectURIs: nonNil(c.RedirectURIs), Scopes: nonNil(c.Scopes), BuiltIn: c.BuiltIn, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type createClientRequest struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	GrantTypes   []string `json:"grant_types"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
}

func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	req, err := decode[createClientRequest](r)
	if err != nil {
		return err
	}
	c, sec, err := s.oauth.CreateClient(r.Context(), oauth.NewClient{Name: req.Name, Type: oauth.ClientType(req.Type),
		GrantTypes: req.GrantTypes, RedirectURIs: req.RedirectURIs, Scopes: req.Scopes})
	if err != nil {
		return err
	}
	out := toClientJSON(c)
	out.ClientSecret = sec
	w.Header().Set("Location", "/api/v1/clients/"+c.ID)
	encode(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	limit, afterCreated, afterID, err := createdPageParams(r)
	if err != nil {
		return err
	}
	list, err := s.oauth.ListClientsPage(r.Context(), limit+1, afterCreated, afterID)
	if err != nil {
		return err
	}
	list, next := nextPage(list, limit, func(c *oauth.Client) string { return createdKey(c.CreatedAt, c.ID) })
	items := make([]clientJSON, 0, len(list))
	for _, c := range list {
		items = append(items, toClientJSON(c))
	}
	encode(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) handleGetClient(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	c, err := s.oauth.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toClientJSON(c))
	return nil
}

func (s *Server) handleDeleteClient(w http.ResponseWriter, r *http.Request, _ *rbac.Principal) error {
	if err := s.oauth.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
