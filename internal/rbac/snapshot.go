package rbac

import "sort"

// Snapshot is an immutable view of every role and group with the role
// hierarchy resolved. It is safe for concurrent use.
type Snapshot struct {
	roles    map[string]Role
	groups   map[string]Group
	closure  map[string][]string        // role → itself plus every role it inherits, sorted
	effPerms map[string]map[string]bool // role → effective permissions
}

// NewSnapshot resolves roles and groups. Unknown inherited roles are ignored;
// cycles cannot loop (each role is visited once).
func NewSnapshot(roles []Role, groups []Group) *Snapshot {
	s := &Snapshot{
		roles:    make(map[string]Role, len(roles)),
		groups:   make(map[string]Group, len(groups)),
		closure:  make(map[string][]string, len(roles)),
		effPerms: make(map[string]map[string]bool, len(roles)),
	}
	for _, r := range roles {
		s.roles[r.Name] = r
	}
	for _, g := range groups {
		s.groups[g.Name] = g
	}
	for name := range s.roles {
		seen := map[string]bool{}
		s.walk(name, seen)
		cl := make([]string, 0, len(seen))
		perms := map[string]bool{}
		for r := range seen {
			cl = append(cl, r)
			for _, p := range s.roles[r].Permissions {
				perms[p] = true
			}
		}
		sort.Strings(cl)
		s.closure[name] = cl
		s.effPerms[name] = perms
	}
	return s
}

func (s *Snapshot) walk(name string, seen map[string]bool) {
	r, ok := s.roles[name]
	if !ok || seen[name] {
		return
	}
	seen[name] = true
	for _, in := range r.Inherits {
		s.walk(in, seen)
	}
}

// Role returns the role of that name.
func (s *Snapshot) Role(name string) (Role, bool) { r, ok := s.roles[name]; return r, ok }

// Group returns the group of that name.
func (s *Snapshot) Group(name string) (Group, bool) { g, ok := s.groups[name]; return g, ok }

// Roles returns every role, sorted by name.
func (s *Snapshot) Roles() []Role {
	out := make([]Role, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Groups returns every group, sorted by name.
func (s *Snapshot) Groups() []Group {
	out := make([]Group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EffectivePermissions returns the sorted permissions of a role including
// inherited ones.
func (s *Snapshot) EffectivePermissions(role string) []string {
	return sortedKeys(s.effPerms[role])
}

// Resolve returns the effective roles (direct, from groups, and inherited)
// and the union of their permissions, both sorted.
func (s *Snapshot) Resolve(roles, groups []string) (effRoles, perms []string) {
	rs := map[string]bool{}
	ps := map[string]bool{}
	add := func(role string) {
		for _, r := range s.closure[role] {
			rs[r] = true
		}
		for p := range s.effPerms[role] {
			ps[p] = true
		}
	}
	for _, r := range roles {
		add(r)
	}
	for _, g := range groups {
		for _, r := range s.groups[g].Roles {
			add(r)
		}
	}
	return sortedKeys(rs), sortedKeys(ps)
}

// AllPermissions returns every permission any role grants, sorted.
func (s *Snapshot) AllPermissions() []string {
	ps := map[string]bool{}
	for _, r := range s.roles {
		for _, p := range r.Permissions {
			ps[p] = true
		}
	}
	return sortedKeys(ps)
}

// HasCycle reports whether following Inherits from role ever returns to it.
func (s *Snapshot) HasCycle(role string) bool {
	var visit func(name string, path map[string]bool) bool
	visit = func(name string, path map[string]bool) bool {
		if path[name] {
			return true
		}
		r, ok := s.roles[name]
		if !ok {
			return false
		}
		path[name] = true
		defer delete(path, name)
		for _, in := range r.Inherits {
			if visit(in, path) {
				return true
			}
		}
		return false
	}
	return visit(role, map[string]bool{})
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
