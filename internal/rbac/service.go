package rbac

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
)

// Service manages roles and groups and serves a cached Snapshot of them.
type Service struct {
	store Store
	audit *audit.Recorder
	// refresh bounds how stale the cache may be when another instance
	// changed roles; changes made through this Service invalidate at once.
	refresh time.Duration

	mu       sync.Mutex
	snap     *Snapshot
	loadedAt time.Time
}

// NewService returns a Service over store recording changes with rec.
func NewService(store Store, rec *audit.Recorder) *Service {
	return &Service{store: store, audit: rec, refresh: 5 * time.Second}
}

var (
	roleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
	permRE     = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}:[a-z*][a-z0-9_.*-]{0,62}$`)
)

// ValidPermission reports whether p has the form resource:action.
func ValidPermission(p string) bool { return permRE.MatchString(p) }

// EnsureDefaults creates the default roles and groups when no role exists yet
// (first start). Later edits by admins are left alone.
func (s *Service) EnsureDefaults(ctx context.Context) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		roles, err := s.store.ListRoles(ctx)
		if err != nil || len(roles) > 0 {
			return err
		}
		for _, r := range DefaultRoles() {
			if err := s.store.CreateRole(ctx, r); err != nil {
				return err
			}
		}
		for _, g := range DefaultGroups() {
			if err := s.store.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Event{Action: "role.defaults_created", Target: audit.Ref{Type: audit.TypeRole, ID: "*"}})
	})
}

// Snapshot returns the current roles and groups, cached for a few seconds.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	snap, at := s.snap, s.loadedAt
	s.mu.Unlock()
	if snap != nil && time.Since(at) < s.refresh {
		return snap, nil
	}
	roles, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	snap = NewSnapshot(roles, groups)
	s.mu.Lock()
	s.snap, s.loadedAt = snap, time.Now()
	s.mu.Unlock()
	return snap, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.snap = nil
	s.mu.Unlock()
}

// SaveRole creates (create=true) or replaces a role after validating its
// name, permissions and inherited roles, refusing cycles. Audited as
// role.created / role.updated. Conflict last_admin when the change would
// leave no active admin (keepAnAdmin).
func (s *Service) SaveRole(ctx context.Context, r Role, create bool) (Role, error) {
	if !roleNameRE.MatchString(r.Name) {
		return Role{}, apperr.InvalidField("name", "must be 1-63 characters of a-z, 0-9, _ . - starting with a letter")
	}
	if len(r.Description) > 256 {
		return Role{}, apperr.InvalidField("description", "must be at most 256 characters")
	}
	r.Permissions = dedupe(r.Permissions)
	r.Inherits = dedupe(r.Inherits)
	if len(r.Permissions) > 256 || len(r.Inherits) > 32 {
		return Role{}, apperr.InvalidField("permissions", "at most 256 permissions and 32 inherited roles")
	}
	for _, p := range r.Permissions {
		if !ValidPermission(p) {
			return Role{}, apperr.InvalidField("permissions", "each permission must look like resource:action, e.g. documents:read")
		}
	}
	action := "role.updated"
	if create {
		action = "role.created"
	}
	err := s.keepAnAdmin(ctx, func(ctx context.Context, snap *Snapshot) error {
		existing, ok := snap.Role(r.Name)
		switch {
		case create && ok:
			return apperr.Conflict(apperr.CodeRoleExists, "a role named %q exists", r.Name)
		case !create && !ok:
			return apperr.NotFound(apperr.CodeRoleNotFound, "no role named %q", r.Name)
		}
		r.BuiltIn = existing.BuiltIn
		next := slices.DeleteFunc(snap.Roles(), func(x Role) bool { return x.Name == r.Name })
		check := NewSnapshot(append(next, r), nil)
		for _, in := range r.Inherits {
			if _, ok := check.Role(in); !ok {
				return apperr.InvalidField("inherits", "unknown role "+in)
			}
		}
		if check.HasCycle(r.Name) {
			return apperr.Invalid(apperr.CodeRoleCycle, "role %q would inherit itself", r.Name).WithField("inherits", "must not form a cycle")
		}
		var err error
		if create {
			err = s.store.CreateRole(ctx, r)
		} else {
			err = s.store.UpdateRole(ctx, r)
		}
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: action, Target: audit.Ref{Type: audit.TypeRole, ID: r.Name},
			Metadata: map[string]any{"permissions": r.Permissions, "inherits": r.Inherits}})
	})
	return r, err
}

// DeleteRole removes a role nobody uses; built-in roles cannot be deleted.
// Conflict role_in_use, or last_admin (keepAnAdmin).
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	return s.keepAnAdmin(ctx, func(ctx context.Context, snap *Snapshot) error {
		r, ok := snap.Role(name)
		if !ok {
			return apperr.NotFound(apperr.CodeRoleNotFound, "no role named %q", name)
		}
		if r.BuiltIn {
			return apperr.Conflict(apperr.CodeRoleInUse, "built-in role %q cannot be deleted", name)
		}
		inUse, err := s.store.RoleInUse(ctx, name)
		if err != nil {
			return err
		}
		if inUse {
			return apperr.Conflict(apperr.CodeRoleInUse, "role %q is still granted to users, groups or roles; remove it from them first", name)
		}
		if err := s.store.DeleteRole(ctx, name); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "role.deleted", Target: audit.Ref{Type: audit.TypeRole, ID: name}})
	})
}

// SaveGroup creates or replaces a group whose roles all exist. Conflict
// group_exists, or last_admin when the change would leave no active admin
// (keepAnAdmin).
func (s *Service) SaveGroup(ctx context.Context, g Group, create bool) (Group, error) {
	if !roleNameRE.MatchString(g.Name) {
		return Group{}, apperr.InvalidField("name", "must be 1-63 characters of a-z, 0-9, _ . - starting with a letter")
	}
	if len(g.Description) > 256 {
		return Group{}, apperr.InvalidField("description", "must be at most 256 characters")
	}
	g.Roles = dedupe(g.Roles)
	action := "group.updated"
	if create {
		action = "group.created"
	}
	err := s.keepAnAdmin(ctx, func(ctx context.Context, snap *Snapshot) error {
		for _, r := range g.Roles {
			if _, ok := snap.Role(r); !ok {
				return apperr.InvalidField("roles", "unknown role "+r)
			}
		}
		existing, ok := snap.Group(g.Name)
		switch {
		case create && ok:
			return apperr.Conflict(apperr.CodeGroupExists, "a group named %q exists", g.Name)
		case !create && !ok:
			return apperr.NotFound(apperr.CodeGroupNotFound, "no group named %q", g.Name)
		}
		g.BuiltIn = existing.BuiltIn
		var err error
		if create {
			err = s.store.CreateGroup(ctx, g)
		} else {
			err = s.store.UpdateGroup(ctx, g)
		}
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: action, Target: audit.Ref{Type: audit.TypeGroup, ID: g.Name},
			Metadata: map[string]any{"roles": g.Roles}})
	})
	return g, err
}

// DeleteGroup removes a group and its memberships; built-in groups stay.
// Conflict last_admin when its members were the last admins (keepAnAdmin).
func (s *Service) DeleteGroup(ctx context.Context, name string) error {
	return s.keepAnAdmin(ctx, func(ctx context.Context, snap *Snapshot) error {
		g, ok := snap.Group(name)
		if !ok {
			return apperr.NotFound(apperr.CodeGroupNotFound, "no group named %q", name)
		}
		if g.BuiltIn {
			return apperr.Conflict(apperr.CodeRoleInUse, "built-in group %q cannot be deleted", name)
		}
		if err := s.store.DeleteGroup(ctx, name); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Event{Action: "group.deleted", Target: audit.Ref{Type: audit.TypeGroup, ID: name}})
	})
}

// load reads a fresh snapshot (inside a transaction, for checks).
func (s *Service) load(ctx context.Context) (*Snapshot, error) {
	roles, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	return NewSnapshot(roles, groups), nil
}

func dedupe(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
