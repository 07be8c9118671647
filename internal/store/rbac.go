package store

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/rbac"
)

var _ rbac.Store = (*Store)(nil)

// ListRoles returns every role, by name.
func (s *Store) ListRoles(ctx context.Context) ([]rbac.Role, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT name, description, permissions, inherits, built_in FROM roles ORDER BY name`)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []rbac.Role
	for rows.Next() {
		var r rbac.Role
		if err := rows.Scan(&r.Name, &r.Description, listCol{&r.Permissions}, listCol{&r.Inherits}, &r.BuiltIn); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// CreateRole inserts r; Conflict role_exists.
func (s *Store) CreateRole(ctx context.Context, r rbac.Role) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO roles (name, description, permissions, inherits, built_in)
		VALUES ($1, $2, $3, $4, $5)`, r.Name, r.Description, list(r.Permissions), list(r.Inherits), r.BuiltIn)
	return s.conflictOr(err, apperr.CodeRoleExists, "a role of that name exists")
}

// UpdateRole replaces the role of that name; NotFound role_not_found.
func (s *Store) UpdateRole(ctx context.Context, r rbac.Role) error {
	res, err := s.wr(ctx).exec(ctx, `UPDATE roles SET description = $2, permissions = $3, inherits = $4, built_in = $5
		WHERE name = $1`, r.Name, r.Description, list(r.Permissions), list(r.Inherits), r.BuiltIn)
	return s.affectedOne(res, err, apperr.CodeRoleNotFound, "role not found")
}

// DeleteRole removes the role (memberships naming it are left to the caller,
// which checks RoleInUse first); NotFound role_not_found.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	res, err := s.wr(ctx).exec(ctx, `DELETE FROM roles WHERE name = $1`, name)
	return s.affectedOne(res, err, apperr.CodeRoleNotFound, "role not found")
}

// RoleInUse reports whether any user has the role directly, any group
// carries it, or any other role inherits it.
func (s *Store) RoleInUse(ctx context.Context, name string) (bool, error) {
	var used bool
	if err := s.rd(ctx).queryRow(ctx, s.d.roleInUse, name).Scan(&used); err != nil {
		return false, s.mapErr(err)
	}
	return used, nil
}

// ListGroups returns every group, by name.
func (s *Store) ListGroups(ctx context.Context) ([]rbac.Group, error) {
	rows, err := s.rd(ctx).query(ctx, `SELECT name, description, roles, built_in FROM groups ORDER BY name`)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []rbac.Group
	for rows.Next() {
		var g rbac.Group
		if err := rows.Scan(&g.Name, &g.Description, listCol{&g.Roles}, &g.BuiltIn); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// CreateGroup inserts g; Conflict group_exists.
func (s *Store) CreateGroup(ctx context.Context, g rbac.Group) error {
	_, err := s.wr(ctx).exec(ctx, `INSERT INTO groups (name, description, roles, built_in) VALUES ($1, $2, $3, $4)`,
		g.Name, g.Description, list(g.Roles), g.BuiltIn)
	return s.conflictOr(err, apperr.CodeGroupExists, "a group of that name exists")
}

// UpdateGroup replaces the group; NotFound group_not_found.
func (s *Store) UpdateGroup(ctx context.Context, g rbac.Group) error {
	res, err := s.wr(ctx).exec(ctx, `UPDATE groups SET description = $2, roles = $3, built_in = $4 WHERE name = $1`,
		g.Name, g.Description, list(g.Roles), g.BuiltIn)
	return s.affectedOne(res, err, apperr.CodeGroupNotFound, "group not found")
}

// DeleteGroup removes the group and every membership of it, in one
// transaction; NotFound group_not_found.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		w := s.wr(ctx)
		res, err := w.exec(ctx, `DELETE FROM groups WHERE name = $1`, name)
		if err := s.affectedOne(res, err, apperr.CodeGroupNotFound, "group not found"); err != nil {
			return err
		}
		_, err = w.exec(ctx, `DELETE FROM user_groups WHERE group_name = $1`, name)
		return s.mapErr(err)
	})
}
