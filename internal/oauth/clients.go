package oauth

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// BuiltInClient is the first-party public client that serves the password
// grant when a request names no client.
func BuiltInClient(now time.Time) *Client {
	return &Client{ID: BuiltInClientID, Name: "Gatehouse first-party client", Type: ClientPublic,
		GrantTypes: []string{GrantPassword, GrantRefreshToken, GrantMFAOTP}, Scopes: []string{"*"}, BuiltIn: true,
		CreatedAt: now, UpdatedAt: now}
}

// EnsureBuiltInClient creates the built-in client when it is missing.
func (s *Service) EnsureBuiltInClient(ctx context.Context) error {
	_, err := s.store.GetClient(ctx, BuiltInClientID)
	if apperr.Is(err, apperr.KindNotFound) {
		err = s.store.CreateClient(ctx, BuiltInClient(s.now().UTC()))
		if apperr.Is(err, apperr.KindConflict) {
			return nil // another instance made it
		}
	}
	return err
}

// AuthenticateClient identifies the client of a token request. With no
// client id and allowBuiltIn, it is the built-in public client. A
// confidential client must present its secret, compared by SHA-256 in
// constant time; a public client must not present one.
func (s *Service) AuthenticateClient(ctx context.Context, id, sec string, allowBuiltIn bool) (*Client, error) {
	if id == "" {
		if !allowBuiltIn || sec != "" {
			return nil, InvalidClient("client authentication is required")
		}
		id = BuiltInClientID
	}
	if len(id) > 128 || len(sec) > 512 {
		return nil, InvalidClient("client authentication failed")
	}
	c, err := s.clients.get(ctx, id)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, InvalidClient("client authentication failed")
	} else if err != nil {
		return nil, FromAppErr(err)
	}
	switch c.Type {
	case ClientConfidential:
		if sec == "" || !secret.Equal(secret.Hash(sec), c.SecretHash) {
			return nil, InvalidClient("client authentication failed")
		}
	default:
		if sec != "" {
			return nil, InvalidClient("a public client has no secret")
		}
	}
	return c, nil
}

// NewClient is the input of CreateClient.
type NewClient struct {
	Name         string
	Type         ClientType
	GrantTypes   []string
	RedirectURIs []string
	Scopes       []string
}

var clientNameRE = regexp.MustCompile(`^[\p{L}\p{N} ._'()-]{1,128}$`)

var knownGrants = []string{GrantPassword, GrantRefreshToken, GrantClientCredentials, GrantAuthorizationCode, GrantMFAOTP}

func (s *Service) validateClient(ctx context.Context, in NewClient) error {
	if !clientNameRE.MatchString(in.Name) {
		return apperr.InvalidField("name", "must be 1-128 letters, digits, spaces or . _ ' ( ) -")
	}
	if in.Type != ClientPublic && in.Type != ClientConfidential {
		return apperr.InvalidField("type", "must be public or confidential")
	}
	if len(in.GrantTypes) == 0 {
		return apperr.InvalidField("grant_types", "name at least one grant type")
	}
	for _, g := range in.GrantTypes {
		if !slices.Contains(knownGrants, g) {
			return apperr.InvalidField("grant_types", "unknown grant type "+clip(g))
		}
	}
	if slices.Contains(in.GrantTypes, GrantClientCredentials) && in.Type != ClientConfidential {
		return apperr.InvalidField("grant_types", "client_credentials needs a confidential client")
	}
	if len(in.RedirectURIs) > 32 {
		return apperr.InvalidField("redirect_uris", "at most 32")
	}
	for _, r := range in.RedirectURIs {
		if err := ValidateRedirectURI(r); err != nil {
			return err
		}
	}
	if slices.Contains(in.GrantTypes, GrantAuthorizationCode) && len(in.RedirectURIs) == 0 {
		return apperr.InvalidField("redirect_uris", "authorization_code needs at least one redirect URI")
	}
	if len(in.Scopes) > 256 {
		return apperr.InvalidField("scopes", "at most 256")
	}
	snap, err := s.rbac.Snapshot(ctx)
	if err != nil {
		return err
	}
	known := snap.AllPermissions()
	for _, sc := range in.Scopes {
		if !slices.Contains(known, sc) && !slices.Contains(oidcScopes, sc) {
			return apperr.InvalidField("scopes", "unknown scope "+clip(sc)+"; scopes are permissions such as documents:read")
		}
	}
	return nil
}

// ValidateRedirectURI accepts absolute https URIs, http only on loopback
// hosts (RFC 8252 §7.3), and private-use schemes, never with a fragment.
func ValidateRedirectURI(raw string) error {
	bad := apperr.InvalidField("redirect_uris", "each must be an absolute https URI (http only for loopback), without a fragment")
	if len(raw) > 2048 {
		return bad
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil {
		return bad
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return bad
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return bad
		}
	case "javascript", "data", "file", "vbscript":
		return bad
	}
	return nil
}

// CreateClient registers a client and returns it with its secret (shown once;
// "" for public clients). Audited as client.created.
func (s *Service) CreateClient(ctx context.Context, in NewClient) (*Client, string, error) {
	in.GrantTypes, in.Scopes = dedupe(in.GrantTypes), dedupe(in.Scopes)
	if err := s.validateClient(ctx, in); err != nil {
		return nil, "", err
	}
	now := s.now().UTC()
	c := &Client{ID: secret.RandomID("cli"), Name: in.Name, Type: in.Type, GrantTypes: in.GrantTypes,
		RedirectURIs: in.RedirectURIs, Scopes: in.Scopes, CreatedAt: now, UpdatedAt: now}
	var sec string
	if c.Type == ClientConfidential {
		sec = "ghs_" + secret.Token()
		c.SecretHash = secret.Hash(sec)
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateClient(ctx, c); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "client.created", Target: clientRef(c.ID),
			Metadata: map[string]any{"name": c.Name, "type": string(c.Type), "grant_types": c.GrantTypes, "scopes": c.Scopes}})
	})
	if err != nil {
		return nil, "", err
	}
	return c, sec, nil
}

// GetClient returns a client; NotFound client_not_found.
func (s *Service) GetClient(ctx context.Context, id string) (*Client, error) {
	return s.store.GetClient(ctx, id)
}

// ListClients returns every client, oldest first.
func (s *Service) ListClients(ctx context.Context) ([]*Client, error) {
	return s.store.ListClients(ctx)
}

// ListClientsPage returns one page of clients, oldest first: up to limit
// after the client (afterCreated, afterID), the last of the page before
// (afterID "" for the first page).
func (s *Service) ListClientsPage(ctx context.Context, limit int, afterCreated time.Time, afterID string) ([]*Client, error) {
	return s.store.ListClientsPage(ctx, limit, afterCreated, afterID)
}

// DeleteClient removes a client; the built-in client stays. Its sessions end.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if id == BuiltInClientID {
		return apperr.Conflict(apperr.CodeClientBuiltIn, "the built-in client cannot be deleted; turn the password grant off with GATEHOUSE_PASSWORD_GRANT=false instead")
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.DeleteClient(ctx, id); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "client.deleted", Target: clientRef(id)})
	})
	s.clients.invalidate(id)
	return err
}

func clientRef(id string) audit.Ref { return audit.Ref{Type: audit.TypeClient, ID: id} }

func dedupe(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
