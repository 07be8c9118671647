package rbac

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
)

// adminPerms are the own permissions of the built-in admin role in SPEC
// Appendix A, sorted: what it takes to run Gatehouse.
var adminPerms = []string{PermClientsManage, PermKeysManage, PermProvidersManage, PermRolesManage,
	PermSettingsManage, PermTokensIntrospect, PermUsersManage}

// AdminPermissions returns, sorted, the permissions that make a user an
// admin for the last-admin safeguard (SPEC §3), the bootstrap and `gatehouse
// doctor`: every own permission of the built-in admin role in SPEC
// Appendix A. Being an admin is holding them all, through any mix of direct
// roles, groups and inheritance, not holding a role named admin: a role
// called admin that was stripped of them makes nobody an admin, and a custom
// role that grants them all does.
func AdminPermissions() []string { return slices.Clone(adminPerms) }

// UserGrants are the direct roles and groups of one user.
type UserGrants struct {
	Roles  []string
	Groups []string
}

// IsAdmin reports whether a user with these direct roles and groups holds
// every AdminPermissions.
func (s *Snapshot) IsAdmin(roles, groups []string) bool {
	_, perms := s.Resolve(roles, groups)
	for _, p := range adminPerms {
		if _, ok := slices.BinarySearch(perms, p); !ok {
			return false
		}
	}
	return true
}

// adminSources returns the roles (sorted) that grant at least one admin
// permission and the groups (sorted) that carry one of them: a user holding
// none of them cannot be an admin.
func (s *Snapshot) adminSources() (roles, groups []string) {
	for name, perms := range s.effPerms {
		if slices.ContainsFunc(adminPerms, func(p string) bool { return perms[p] }) {
			roles = append(roles, name)
		}
	}
	sort.Strings(roles)
	for name, g := range s.groups {
		if slices.ContainsFunc(g.Roles, func(r string) bool { _, ok := slices.BinarySearch(roles, r); return ok }) {
			groups = append(groups, name)
		}
	}
	sort.Strings(groups)
	return roles, groups
}

// LockAdmins starts a last-admin check inside ctx's transaction (Internal
// outside one): it takes the lock that serializes these checks, across
// instances too, and returns the roles and groups read under it. Call it
// before reading what the check depends on; the lock holds until the
// transaction ends.
func (s *Service) LockAdmins(ctx context.Context) (*Snapshot, error) {
	if err := s.store.LockAdmins(ctx); err != nil {
		return nil, err
	}
	return s.load(ctx)
}

// CountAdmins counts the active users that are admins (Snapshot.IsAdmin)
// under snap, with memberships as storage holds them now: in ctx's
// transaction, the change it made included.
func (s *Service) CountAdmins(ctx context.Context, snap *Snapshot) (int, error) {
	roles, groups := snap.adminSources()
	if len(roles) == 0 {
		return 0, nil
	}
	users, err := s.store.ListActiveGrants(ctx, roles, groups)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if snap.IsAdmin(u.Roles, u.Groups) {
			n++
		}
	}
	return n, nil
}

// AdminCount returns the number of active admins, from roles and groups read
// afresh (for gatehouse doctor, the dashboard and the bootstrap).
func (s *Service) AdminCount(ctx context.Context) (int, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return 0, err
	}
	return s.CountAdmins(ctx, snap)
}

// keepAnAdmin runs change in one transaction under the admin lock and
// refuses it with Conflict last_admin when an active admin existed before it
// and none would after (SPEC §3): editing roles and groups must not demote
// the last admin any more than editing the user may. change gets the roles
// and groups as read under the lock. The cache is invalidated either way.
func (s *Service) keepAnAdmin(ctx context.Context, change func(ctx context.Context, snap *Snapshot) error) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		snap, err := s.LockAdmins(ctx)
		if err != nil {
			return err
		}
		before, err := s.CountAdmins(ctx, snap)
		if err != nil {
			return err
		}
		if err := change(ctx, snap); err != nil || before == 0 {
			return err
		}
		if snap, err = s.load(ctx); err != nil {
			return err
		}
		after, err := s.CountAdmins(ctx, snap)
		if err != nil {
			return err
		}
		if after == 0 {
			return apperr.Conflict(apperr.CodeLastAdmin,
				"this change would leave no active user holding every admin permission (%s); make another user admin first",
				strings.Join(adminPerms, ", "))
		}
		return nil
	})
	s.invalidate()
	return err
}
