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

func TestAdminSafeguardHelpers(t *testing.T) {
	roles := append(rbac.DefaultRoles(), rbac.Role{Name: "superadmin", Inherits: []string{"admin"}})
	snap := rbac.NewSnapshot(roles, append(rbac.DefaultGroups(), rbac.Group{Name: "ops", Roles: []string{"superadmin"}}))
	if diff := cmp.Diff([]string{"admin", "superadmin"}, snap.RolesIncluding("admin")); diff != "" {
		t.Errorf("RolesIncluding (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"admin", "ops"}, snap.GroupsWithAnyRole([]string{"admin", "superadmin"})); diff != "" {
		t.Errorf("GroupsWithAnyRole (-want +got):\n%s", diff)
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
