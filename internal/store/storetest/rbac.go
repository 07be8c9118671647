package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/store"
)

func roleFixture(name string, inherits ...string) rbac.Role {
	return rbac.Role{Name: name, Description: "role " + name, Permissions: []string{name + ":read", name + ":write"}, Inherits: inherits}
}

var rbacTests = []test{
	{"Roles", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		roles, err := s.ListRoles(ctx)
		must(t, err)
		if len(roles) != 0 {
			t.Fatalf("fresh store has roles %v", roles)
		}
		defaults := rbac.DefaultRoles()
		for _, r := range defaults {
			must(t, s.CreateRole(ctx, r))
		}
		extra := rbac.Role{Name: "auditor"} // no permissions, no inherits
		must(t, s.CreateRole(ctx, extra))
		wantErr(t, s.CreateRole(ctx, rbac.Role{Name: "admin"}), apperr.KindConflict, apperr.CodeRoleExists)

		roles, err = s.ListRoles(ctx)
		must(t, err)
		want := []rbac.Role{defaults[3], extra, defaults[2], defaults[1], defaults[0]} // by name
		if d := cmp.Diff(want, roles); d != "" {
			t.Fatalf("ListRoles (-want +got):\n%s", d)
		}

		upd := rbac.Role{Name: "auditor", Description: "reads the log", Permissions: []string{"audit:read"}, Inherits: []string{"viewer"}, BuiltIn: true}
		must(t, s.UpdateRole(ctx, upd))
		wantErr(t, s.UpdateRole(ctx, rbac.Role{Name: "nope"}), apperr.KindNotFound, apperr.CodeRoleNotFound)
		roles, err = s.ListRoles(ctx)
		must(t, err)
		if d := cmp.Diff(upd, roles[1]); d != "" {
			t.Fatalf("updated role (-want +got):\n%s", d)
		}

		must(t, s.DeleteRole(ctx, "auditor"))
		wantErr(t, s.DeleteRole(ctx, "auditor"), apperr.KindNotFound, apperr.CodeRoleNotFound)
		roles, err = s.ListRoles(ctx)
		must(t, err)
		if len(roles) != 4 {
			t.Fatalf("%d roles after delete, want 4", len(roles))
		}
	}},
	{"RoleInUse", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, r := range []rbac.Role{
			roleFixture("unused"), roleFixture("direct"), roleFixture("grouped"),
			roleFixture("parent"), roleFixture("child", "parent"), roleFixture("selfish", "selfish"),
		} {
			must(t, s.CreateRole(ctx, r))
		}
		must(t, s.CreateGroup(ctx, rbac.Group{Name: "g", Roles: []string{"other", "grouped"}}))
		u := newUser("alice")
		u.Roles = []string{"direct"}
		must(t, s.CreateUser(ctx, u))
		for _, tc := range []struct {
			role string
			want bool
		}{
			{"unused", false},
			{"direct", true},
			{"grouped", true},
			{"parent", true},
			{"child", false},
			{"selfish", false}, // inheriting itself is no use by another role
			{"gro", false},     // no substring matches
			{"missing", false},
		} {
			used, err := s.RoleInUse(ctx, tc.role)
			must(t, err)
			if used != tc.want {
				t.Errorf("RoleInUse(%q) = %v, want %v", tc.role, used, tc.want)
			}
		}
	}},
	{"Groups", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		defaults := rbac.DefaultGroups()
		for _, g := range defaults {
			must(t, s.CreateGroup(ctx, g))
		}
		wantErr(t, s.CreateGroup(ctx, rbac.Group{Name: "user"}), apperr.KindConflict, apperr.CodeGroupExists)
		groups, err := s.ListGroups(ctx)
		must(t, err)
		if d := cmp.Diff(defaults, groups); d != "" {
			t.Fatalf("ListGroups (-want +got):\n%s", d)
		}

		upd := rbac.Group{Name: "user", Description: "everyone", Roles: []string{"viewer", "reviewer"}}
		must(t, s.UpdateGroup(ctx, upd))
		wantErr(t, s.UpdateGroup(ctx, rbac.Group{Name: "nope"}), apperr.KindNotFound, apperr.CodeGroupNotFound)
		groups, err = s.ListGroups(ctx)
		must(t, err)
		if d := cmp.Diff(upd, groups[1]); d != "" {
			t.Fatalf("updated group (-want +got):\n%s", d)
		}

		u := newUser("alice")
		u.Groups = []string{"admin", "user"}
		must(t, s.CreateUser(ctx, u))
		must(t, s.DeleteGroup(ctx, "admin"))
		wantErr(t, s.DeleteGroup(ctx, "admin"), apperr.KindNotFound, apperr.CodeGroupNotFound)
		got, err := s.GetUser(ctx, u.ID)
		must(t, err)
		if d := cmp.Diff([]string{"user"}, got.Groups); d != "" {
			t.Fatalf("memberships after DeleteGroup (-want +got):\n%s", d)
		}
	}},
}

func clientFixture(id string) *oauth.Client {
	return &oauth.Client{
		ID: id, Name: "Client " + id, Type: oauth.ClientConfidential, SecretHash: "5e3",
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:8765/cb"},
		Scopes:       []string{"openid", "documents:read"},
		CreatedAt:    t0, UpdatedAt: t0,
	}
}

var clientTests = []test{
	{"CRUD", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		a, b := clientFixture("app_a"), clientFixture("app_b")
		b.CreatedAt = t0.Add(time.Second)
		builtIn := &oauth.Client{ID: oauth.BuiltInClientID, Type: oauth.ClientPublic, GrantTypes: []string{oauth.GrantPassword},
			Scopes: []string{"*"}, BuiltIn: true, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0}
		for _, c := range []*oauth.Client{b, a, builtIn} {
			must(t, s.CreateClient(ctx, c))
		}
		wantErr(t, s.CreateClient(ctx, clientFixture("app_a")), apperr.KindConflict, apperr.CodeClientExists)

		got, err := s.GetClient(ctx, "app_a")
		must(t, err)
		if d := cmp.Diff(a, got); d != "" {
			t.Fatalf("GetClient (-want +got):\n%s", d)
		}
		_, err = s.GetClient(ctx, "nope")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeClientNotFound)

		list, err := s.ListClients(ctx)
		must(t, err)
		if d := cmp.Diff([]*oauth.Client{builtIn, a, b}, list); d != "" {
			t.Fatalf("ListClients (-want +got):\n%s", d)
		}

		upd := *a
		upd.Name, upd.Type, upd.SecretHash = "renamed", oauth.ClientPublic, ""
		upd.GrantTypes, upd.RedirectURIs, upd.Scopes = []string{oauth.GrantClientCredentials}, nil, []string{"*"}
		upd.UpdatedAt = t0.Add(time.Hour)
		must(t, s.UpdateClient(ctx, &upd))
		got, err = s.GetClient(ctx, "app_a")
		must(t, err)
		if d := cmp.Diff(&upd, got); d != "" {
			t.Fatalf("GetClient after update (-want +got):\n%s", d)
		}
		wantErr(t, s.UpdateClient(ctx, clientFixture("nope")), apperr.KindNotFound, apperr.CodeClientNotFound)

		must(t, s.DeleteClient(ctx, "app_a"))
		wantErr(t, s.DeleteClient(ctx, "app_a"), apperr.KindNotFound, apperr.CodeClientNotFound)
		_, err = s.GetClient(ctx, "app_a")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeClientNotFound)
	}},
	{"ListClientsPages", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		// Five clients, three sharing one created_at (ties broken by id).
		for _, c := range []struct {
			id string
			at time.Duration
		}{{"app_e", time.Second}, {"app_c", 0}, {"app_a", 2 * time.Second}, {"app_d", 0}, {"app_b", 0}} {
			cl := clientFixture(c.id)
			cl.CreatedAt = t0.Add(c.at)
			must(t, s.CreateClient(ctx, cl))
		}
		for _, c := range []struct {
			limit int
			want  [][]string
		}{
			{1, [][]string{{"app_b"}, {"app_c"}, {"app_d"}, {"app_e"}, {"app_a"}}},
			{2, [][]string{{"app_b", "app_c"}, {"app_d", "app_e"}, {"app_a"}}},
			{5, [][]string{{"app_b", "app_c", "app_d", "app_e", "app_a"}}},
		} {
			pages := keysetPages(t, len(c.want), func(afterCreated time.Time, afterID string) ([]*oauth.Client, error) {
				return s.ListClientsPage(ctx, c.limit, afterCreated, afterID)
			}, func(c *oauth.Client) (time.Time, string) { return c.CreatedAt, c.ID })
			if d := cmp.Diff(c.want, pages); d != "" {
				t.Errorf("by %d (-want +got):\n%s", c.limit, d)
			}
		}
		all, err := s.ListClients(ctx)
		must(t, err)
		if len(all) != 5 || all[0].ID != "app_b" || all[4].ID != "app_a" {
			t.Errorf("ListClients = %d clients, want all five in the same order", len(all))
		}
	}},
}
