package rbac_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/rbac"
)

func TestDefaultHierarchy(t *testing.T) {
	snap := rbac.NewSnapshot(rbac.DefaultRoles(), rbac.DefaultGroups())
	cases := []struct {
		role    string
		has     []string
		hasNot  []string
		inherit []string
	}{
		{"viewer", []string{"documents:read", "reviews:read"}, []string{"reviews:write"}, nil},
		{"reviewer", []string{"documents:read", "reviews:write", "reviews:approve"}, []string{"reviews:assign"}, nil},
		{"lead_reviewer", []string{"reviews:read", "reviews:assign", "reviews:override", "users:read", "audit:read"}, []string{"users:manage"}, nil},
		{"admin", []string{"documents:read", "users:manage", "roles:manage", "keys:manage", "clients:manage", "providers:manage", "settings:manage", "tokens:introspect", "audit:read"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.role, func(t *testing.T) {
			perms := snap.EffectivePermissions(c.role)
			for _, p := range c.has {
				if !slices.Contains(perms, p) {
					t.Errorf("%s lacks %s", c.role, p)
				}
			}
			for _, p := range c.hasNot {
				if slices.Contains(perms, p) {
					t.Errorf("%s must not have %s", c.role, p)
				}
			}
		})
	}
}

func TestResolveUnionsRolesAndGroups(t *testing.T) {
	snap := rbac.NewSnapshot(rbac.DefaultRoles(), rbac.DefaultGroups())
	roles, perms := snap.Resolve([]string{"reviewer"}, []string{"user"})
	if diff := cmp.Diff([]string{"reviewer", "viewer"}, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if !slices.Contains(perms, "reviews:approve") || slices.Contains(perms, "users:read") {
		t.Errorf("perms = %v", perms)
	}
	roles, _ = snap.Resolve(nil, []string{"admin"})
	if !slices.Contains(roles, "admin") || !slices.Contains(roles, "viewer") {
		t.Errorf("group admin gives roles %v", roles)
	}
	if r, p := snap.Resolve([]string{"nope"}, []string{"nope"}); len(r) != 0 || len(p) != 0 {
		t.Errorf("unknown names resolve to %v %v", r, p)
	}
}

func TestCyclesTerminate(t *testing.T) {
	snap := rbac.NewSnapshot([]rbac.Role{
		{Name: "a", Permissions: []string{"x:a"}, Inherits: []string{"b"}},
		{Name: "b", Permissions: []string{"x:b"}, Inherits: []string{"a"}},
		{Name: "c", Inherits: []string{"a"}},
	}, nil)
	if !snap.HasCycle("a") {
		t.Fatal("cycle a→b→a not found")
	}
	if diff := cmp.Diff([]string{"x:a", "x:b"}, snap.EffectivePermissions("c")); diff != "" {
		t.Fatalf("c (-want +got):\n%s", diff)
	}
}

// TestIsAdmin pins what "admin" means for the last-admin safeguard: every
// own permission of the built-in admin role (SPEC Appendix A), however it is
// granted, and never just a role called admin.
func TestIsAdmin(t *testing.T) {
	want := []string{"clients:manage", "keys:manage", "providers:manage", "roles:manage", "settings:manage", "tokens:introspect", "users:manage"}
	if diff := cmp.Diff(want, rbac.AdminPermissions()); diff != "" {
		t.Fatalf("AdminPermissions (-want +got):\n%s", diff)
	}
	half, rest := want[:3], want[3:]
	roles := append(rbac.DefaultRoles(),
		rbac.Role{Name: "superadmin", Inherits: []string{"admin"}},
		rbac.Role{Name: "custom", Permissions: want},
		rbac.Role{Name: "half", Permissions: half},
		rbac.Role{Name: "rest", Permissions: rest},
		rbac.Role{Name: "almost", Permissions: want[1:], Inherits: []string{"lead_reviewer"}})
	groups := append(rbac.DefaultGroups(),
		rbac.Group{Name: "ops", Roles: []string{"superadmin"}},
		rbac.Group{Name: "halves", Roles: []string{"half", "rest"}},
		rbac.Group{Name: "resters", Roles: []string{"rest"}})
	snap := rbac.NewSnapshot(roles, groups)
	stripped := rbac.NewSnapshot(append(rbac.DefaultRoles()[:3], rbac.Role{Name: "admin", Inherits: []string{"viewer"}}), rbac.DefaultGroups())
	for _, tc := range []struct {
		name          string
		snap          *rbac.Snapshot
		roles, groups []string
		want          bool
	}{
		{"admin role", snap, []string{"admin"}, nil, true},
		{"admin group", snap, nil, []string{"admin"}, true},
		{"role inheriting admin", snap, []string{"superadmin"}, nil, true},
		{"group of a role inheriting admin", snap, nil, []string{"ops"}, true},
		{"custom role with every permission", snap, []string{"custom"}, nil, true},
		{"two roles that together hold all", snap, []string{"half", "rest"}, nil, true},
		{"a role and a group that together hold all", snap, []string{"half"}, []string{"resters"}, true},
		{"a group of two partial roles", snap, nil, []string{"halves"}, true},
		{"one permission short", snap, []string{"almost"}, nil, false},
		{"partial role", snap, []string{"half"}, []string{"user"}, false},
		{"lead_reviewer", snap, []string{"lead_reviewer"}, nil, false},
		{"nothing", snap, nil, nil, false},
		{"unknown names", snap, []string{"nope"}, []string{"nope"}, false},
		{"admin role stripped of its permissions", stripped, []string{"admin"}, []string{"admin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.snap.IsAdmin(tc.roles, tc.groups); got != tc.want {
				t.Fatalf("IsAdmin(%v, %v) = %v, want %v", tc.roles, tc.groups, got, tc.want)
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	p := &rbac.Principal{Permissions: []string{"a:read", "b:write"}, AMR: []string{"pwd"}}
	if !p.Can("a:read") || p.Can("a:write") || p.HasFactor() {
		t.Fatal("Can/HasFactor")
	}
	p.Limit = rbac.LimitPasswordChange
	if p.Can("a:read") {
		t.Fatal("a limited principal can do nothing by permission")
	}
	if (&rbac.Principal{AMR: []string{"pwd", "otp"}}).HasFactor() == false {
		t.Fatal("otp is a second factor")
	}
	if diff := cmp.Diff([]string{"a", "c"}, rbac.Intersect([]string{"c", "a", "b", "a"}, []string{"a", "c"})); diff != "" {
		t.Errorf("Intersect (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, rbac.Intersect([]string{"b", "a"}, []string{"*"})); diff != "" {
		t.Errorf("Intersect with * (-want +got):\n%s", diff)
	}
}
