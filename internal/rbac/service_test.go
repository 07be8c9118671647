package rbac_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

// env is the rbac and user services over one fresh store with the default
// roles and groups.
type env struct {
	rbac  *rbac.Service
	users *user.Service
	hash  string
}

func newEnv(t *testing.T, newStore func(t *testing.T) *store.Store) *env {
	t.Helper()
	ctx := t.Context()
	st := newStore(t)
	rec := audit.NewRecorder(st, storetest.ChainKey)
	rb := rbac.NewService(st, rec)
	if err := rb.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	hasher := user.NewHasher(user.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 2, 8)
	hash, err := hasher.Hash(ctx, "unused in these tests")
	if err != nil {
		t.Fatal(err)
	}
	rev := oauth.NewRevocations(st, rec, 15*time.Minute)
	users := user.NewService(st, rb, rec, hasher, user.DefaultPolicy(), user.DefaultLockoutPolicy(), rev)
	return &env{rbac: rb, users: users, hash: hash}
}

// user creates an active user with these direct roles and groups.
func (e *env) user(t *testing.T, name string, roles, groups []string) *user.User {
	t.Helper()
	u, _, err := e.users.Create(t.Context(), user.NewUser{Username: name, Roles: roles, Groups: groups,
		Status: user.StatusActive, PasswordHash: e.hash})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func (e *env) admins(t *testing.T) int {
	t.Helper()
	n, err := e.rbac.AdminCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	if e, ok := apperr.As(err); !ok || e.Code != code || (code == apperr.CodeLastAdmin && e.Kind != apperr.KindConflict) {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

var allAdminPerms = rbac.AdminPermissions()

// TestRoleAndGroupEditsKeepAnAdmin covers SPEC §3 for role and group edits:
// a change after which no active user would hold every admin permission is
// refused with Conflict last_admin and changes nothing; the same change is
// fine while another admin remains.
func TestRoleAndGroupEditsKeepAnAdmin(t *testing.T) {
	adminRole := rbac.DefaultRoles()[3]
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				// setup adds users (none makes an admin unless said) and roles.
				setup  func(t *testing.T, e *env)
				change func(ctx context.Context, rb *rbac.Service) error
				code   string // "" when the change must succeed
				admins int    // active admins afterwards
			}{
				{"demote the admin group (bootstrap admin)",
					func(t *testing.T, e *env) { e.user(t, "root", nil, []string{"admin"}) },
					saveGroup("admin", "viewer"), apperr.CodeLastAdmin, 1},
				{"strip the admin role",
					func(t *testing.T, e *env) { e.user(t, "root", nil, []string{"admin"}) },
					saveRole("admin", nil, "viewer"), apperr.CodeLastAdmin, 1},
				{"take one admin permission from the admin role",
					func(t *testing.T, e *env) { e.user(t, "root", []string{"admin"}, nil) },
					saveRole("admin", adminRole.Permissions[:len(adminRole.Permissions)-1], "lead_reviewer"), apperr.CodeLastAdmin, 1},
				{"custom role loses its inheritance of admin",
					func(t *testing.T, e *env) {
						e.role(t, rbac.Role{Name: "ops", Inherits: []string{"admin"}})
						e.user(t, "root", []string{"ops"}, nil)
					},
					saveRole("ops", nil), apperr.CodeLastAdmin, 1},
				{"custom role with every permission loses one",
					func(t *testing.T, e *env) {
						e.role(t, rbac.Role{Name: "ops", Permissions: allAdminPerms})
						e.user(t, "root", []string{"ops"}, nil)
					},
					saveRole("ops", allAdminPerms[1:]), apperr.CodeLastAdmin, 1},
				{"delete a custom group that carries admin",
					func(t *testing.T, e *env) {
						e.group(t, rbac.Group{Name: "ops", Roles: []string{"admin"}})
						e.user(t, "root", nil, []string{"ops"})
					},
					deleteGroup("ops"), apperr.CodeLastAdmin, 1},
				{"split power: the half in a group goes",
					func(t *testing.T, e *env) {
						e.role(t, rbac.Role{Name: "half", Permissions: allAdminPerms[:3]})
						e.role(t, rbac.Role{Name: "rest", Permissions: allAdminPerms[3:]})
						e.group(t, rbac.Group{Name: "resters", Roles: []string{"rest"}})
						e.user(t, "root", []string{"half"}, []string{"resters"})
					},
					saveGroup("resters"), apperr.CodeLastAdmin, 1},

				{"another admin remains (direct role)",
					func(t *testing.T, e *env) {
						e.user(t, "root", nil, []string{"admin"})
						e.user(t, "second", []string{"admin"}, nil)
					},
					saveGroup("admin", "viewer"), "", 1},
				{"another admin remains (custom role)",
					func(t *testing.T, e *env) {
						e.user(t, "root", nil, []string{"admin"})
						e.role(t, rbac.Role{Name: "ops", Permissions: allAdminPerms})
						e.user(t, "second", []string{"ops"}, nil)
					},
					saveRole("admin", nil, "viewer"), "", 1},
				{"a pending admin does not count",
					func(t *testing.T, e *env) {
						e.user(t, "root", nil, []string{"admin"})
						if _, _, err := e.users.Create(t.Context(), user.NewUser{Username: "later", Roles: []string{"admin"}}); err != nil {
							t.Fatal(err)
						}
					},
					saveGroup("admin", "viewer"), apperr.CodeLastAdmin, 1},
				{"edits that keep the admin",
					func(t *testing.T, e *env) { e.user(t, "root", nil, []string{"admin"}) },
					func(ctx context.Context, rb *rbac.Service) error {
						for _, f := range []func(context.Context, *rbac.Service) error{
							saveRole("viewer", []string{"documents:read"}),
							saveRole("admin", append(slices.Clone(adminRole.Permissions), "extra:thing"), "lead_reviewer"),
							saveGroup("admin", "admin", "viewer"),
							func(ctx context.Context, rb *rbac.Service) error {
								_, err := rb.SaveRole(ctx, rbac.Role{Name: "temp"}, true)
								return err
							},
							func(ctx context.Context, rb *rbac.Service) error { return rb.DeleteRole(ctx, "temp") },
						} {
							if err := f(ctx, rb); err != nil {
								return err
							}
						}
						return nil
					}, "", 1},
				{"no admin to protect",
					func(t *testing.T, e *env) { e.user(t, "someone", nil, []string{"user"}) },
					saveGroup("admin", "viewer"), "", 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, newStore)
					tc.setup(t, e)
					before := snapshot(t, e.rbac)
					err := tc.change(t.Context(), e.rbac)
					wantCode(t, err, tc.code)
					if err != nil && !slices.EqualFunc(before.Roles(), snapshot(t, e.rbac).Roles(), equalRole) {
						t.Error("a refused change altered the roles")
					}
					if err != nil && !slices.EqualFunc(before.Groups(), snapshot(t, e.rbac).Groups(), equalGroup) {
						t.Error("a refused change altered the groups")
					}
					if n := e.admins(t); n != tc.admins {
						t.Errorf("%d active admins afterwards, want %d", n, tc.admins)
					}
				})
			}
		})
	}
}

// TestLastAdminIsOneDefinition checks that the user routes' safeguard and
// AdminCount (doctor, bootstrap) use the same meaning of admin as role
// edits: holding every admin permission, not a role named admin.
func TestLastAdminIsOneDefinition(t *testing.T) {
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			e := newEnv(t, newStore)
			e.role(t, rbac.Role{Name: "ops", Permissions: allAdminPerms})
			root := e.user(t, "root", []string{"ops"}, nil)
			if n := e.admins(t); n != 1 {
				t.Fatalf("a user with every admin permission through a custom role: %d admins, want 1", n)
			}
			_, err := e.users.Disable(ctx, root.ID)
			wantCode(t, err, apperr.CodeLastAdmin)
			_, err = e.users.SetRoles(ctx, root.ID, []string{"viewer"})
			wantCode(t, err, apperr.CodeLastAdmin)
			wantCode(t, e.users.Delete(ctx, root.ID), apperr.CodeLastAdmin)

			// With a second admin, the first may be demoted.
			e.user(t, "second", []string{"admin"}, nil)
			if n := e.admins(t); n != 2 {
				t.Fatalf("%d admins, want 2", n)
			}
			_, err = e.users.SetRoles(ctx, root.ID, []string{"viewer"})
			wantCode(t, err, "")
		})
	}
}

// TestConcurrentEditsKeepAnAdmin runs pairs of changes that are each fine
// alone but together would leave no admin: exactly one of each pair wins.
func TestConcurrentEditsKeepAnAdmin(t *testing.T) {
	for engine, newStore := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for round := range 5 {
				e := newEnv(t, newStore)
				e.role(t, rbac.Role{Name: "ops", Permissions: allAdminPerms})
				root := e.user(t, "root", nil, []string{"admin"})
				e.user(t, "second", []string{"ops"}, nil)
				changes := []func(ctx context.Context) error{
					func(ctx context.Context) error { return saveGroup("admin", "viewer")(ctx, e.rbac) },
					func(ctx context.Context) error { return saveRole("ops", nil)(ctx, e.rbac) },
				}
				if round%2 == 1 { // a user edit against a role edit
					changes[0] = func(ctx context.Context) error { _, err := e.users.SetGroups(ctx, root.ID, nil); return err }
				}
				errs := make([]error, len(changes))
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, f := range changes {
					wg.Go(func() { <-start; errs[i] = f(t.Context()) })
				}
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					if err == nil {
						won++
					} else {
						wantCode(t, err, apperr.CodeLastAdmin)
					}
				}
				if n := e.admins(t); won != 1 || n != 1 {
					t.Fatalf("round %d: %d of 2 changes succeeded, %d admins left; want 1 and 1 (%v)", round, won, n, errs)
				}
			}
		})
	}
}

func (e *env) role(t *testing.T, r rbac.Role) {
	t.Helper()
	if _, err := e.rbac.SaveRole(t.Context(), r, true); err != nil {
		t.Fatalf("create role %s: %v", r.Name, err)
	}
}

func (e *env) group(t *testing.T, g rbac.Group) {
	t.Helper()
	if _, err := e.rbac.SaveGroup(t.Context(), g, true); err != nil {
		t.Fatalf("create group %s: %v", g.Name, err)
	}
}

func saveRole(name string, perms []string, inherits ...string) func(context.Context, *rbac.Service) error {
	return func(ctx context.Context, rb *rbac.Service) error {
		_, err := rb.SaveRole(ctx, rbac.Role{Name: name, Permissions: perms, Inherits: inherits}, false)
		return err
	}
}

func saveGroup(name string, roles ...string) func(context.Context, *rbac.Service) error {
	return func(ctx context.Context, rb *rbac.Service) error {
		_, err := rb.SaveGroup(ctx, rbac.Group{Name: name, Roles: roles}, false)
		return err
	}
}

func deleteGroup(name string) func(context.Context, *rbac.Service) error {
	return func(ctx context.Context, rb *rbac.Service) error { return rb.DeleteGroup(ctx, name) }
}

func snapshot(t *testing.T, rb *rbac.Service) *rbac.Snapshot {
	t.Helper()
	// A fresh read each time: the cache is invalidated by every change.
	s, err := rb.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalRole(a, b rbac.Role) bool {
	return a.Name == b.Name && slices.Equal(a.Permissions, b.Permissions) && slices.Equal(a.Inherits, b.Inherits)
}

func equalGroup(a, b rbac.Group) bool { return a.Name == b.Name && slices.Equal(a.Roles, b.Roles) }
