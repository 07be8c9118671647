package store

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

const clientColumns = `id, name, type, secret_hash, grant_types, redirect_uris, scopes, built_in, created_at, updated_at`

func scanClient(sc scanner) (*oauth.Client, error) {
	c := new(oauth.Client)
	var typ string
	err := sc.Scan(&c.ID, &c.Name, &typ, &c.SecretHash, listCol{&c.GrantTypes}, listCol{&c.RedirectURIs},
		listCol{&c.Scopes}, &c.BuiltIn, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if err != nil {
		return nil, err
	}
	c.Type = oauth.ClientType(typ)
	return c, nil
}

// CreateClient inserts c; Conflict client_exists.
func (s *Store) CreateClient(ctx context.Context, c *oauth.Client) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.Name, string(c.Type), c.SecretHash, list(c.GrantTypes), list(c.RedirectURIs),
		list(c.Scopes), c.BuiltIn, s.t(c.CreatedAt), s.t(c.UpdatedAt))
	return s.conflictOr(err, apperr.CodeClientExists, "a client of that id exists")
}

// GetClient returns the client; NotFound client_not_found.
func (s *Store) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	c, err := scanClient(s.rd(ctx).queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, s.notFound(err, apperr.CodeClientNotFound, "client not found")
	}
	return c, nil
}

// ListClients returns every client, oldest first (by created_at, id).
func (s *Store) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	return s.ListClientsPage(ctx, 0, time.Time{}, "")
}

// ListClientsPage returns up to limit clients (every one when limit is not
// positive), oldest first (by created_at, id), after the client
// (afterCreated, afterID), the last of the page before; afterID "" starts
// at the first. The page is read from the (created_at, id) index.
func (s *Store) ListClientsPage(ctx context.Context, limit int, afterCreated time.Time, afterID string) ([]*oauth.Client, error) {
	text, a := s.listClientsQuery(limit, afterCreated, afterID)
	rows, err := s.rd(ctx).query(ctx, text, a...)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*oauth.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// listClientsQuery is ListClientsPage's statement and arguments.
func (s *Store) listClientsQuery(limit int, afterCreated time.Time, afterID string) (string, args) {
	var a args
	text := `SELECT ` + clientColumns + ` FROM clients`
	if afterID != "" {
		text += " WHERE (created_at, id) > (" + a.add(s.t(afterCreated)) + ", " + a.add(afterID) + ")"
	}
	text += " ORDER BY created_at, id"
	if limit > 0 {
		text += " LIMIT " + a.add(limit)
	}
	return text, a
}

// UpdateClient replaces every field of the client but its id and
// CreatedAt; NotFound client_not_found.
func (s *Store) UpdateClient(ctx context.Context, c *oauth.Client) error {
	res, err := s.wr(ctx).exec(ctx, `UPDATE clients SET name = $2, type = $3, secret_hash = $4,
		grant_types = $5, redirect_uris = $6, scopes = $7, built_in = $8, updated_at = $9
		WHERE id = $1`,
		c.ID, c.Name, string(c.Type), c.SecretHash, list(c.GrantTypes), list(c.RedirectURIs),
		list(c.Scopes), c.BuiltIn, s.t(c.UpdatedAt))
	return s.affectedOne(res, err, apperr.CodeClientNotFound, "client not found")
}

// DeleteClient removes the client; NotFound client_not_found.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	return s.affectedOne(res, err, apperr.CodeClientNotFound, "client not found")
}
