// Package rbac holds roles, groups and permissions: the default hierarchy,
// effective-permission resolution, the Principal a request acts as, and the
// Check that decides whether it may.
package rbac

import "context"

// Role is a named set of permissions that may inherit other roles.
// Permissions are the role's own; Effective adds the inherited ones.
type Role struct {
	Name        string
	Description string
	Permissions []string
	Inherits    []string
	BuiltIn     bool
}

// Group is a named set of roles that users join.
type Group struct {
	Name        string
	Description string
	Roles       []string
	BuiltIn     bool
}

// Store is what the rbac package needs from storage.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	ListRoles(ctx context.Context) ([]Role, error)
	// CreateRole inserts r; Conflict role_exists.
	CreateRole(ctx context.Context, r Role) error
	// UpdateRole replaces the role of that name; NotFound role_not_found.
	UpdateRole(ctx context.Context, r Role) error
	// DeleteRole removes the role; NotFound role_not_found.
	DeleteRole(ctx context.Context, name string) error
	// RoleInUse reports whether any user, group or role refers to the role.
	RoleInUse(ctx context.Context, name string) (bool, error)

	ListGroups(ctx context.Context) ([]Group, error)
	// CreateGroup inserts g; Conflict group_exists.
	CreateGroup(ctx context.Context, g Group) error
	// UpdateGroup replaces the group; NotFound group_not_found.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes the group and every membership; NotFound group_not_found.
	DeleteGroup(ctx context.Context, name string) error

	// LockAdmins serializes last-admin checks across concurrent
	// transactions (an advisory lock on PostgreSQL; SQLite transactions are
	// already serial). Internal outside InTx.
	LockAdmins(ctx context.Context) error
	// ListActiveGrants returns the direct roles and groups of every active
	// user that has any of roles directly or belongs to any of groups (none
	// when both are empty), in no particular order.
	ListActiveGrants(ctx context.Context, roles, groups []string) ([]UserGrants, error)
}
