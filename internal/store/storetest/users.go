package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/user"
)

var userTests = []test{
	{"CreateAndGet", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		u := newUser("Alice")
		u.UsernameKey = "alice"
		u.Roles = []string{"reviewer", "admin"} // order is kept
		u.Groups = []string{"user"}
		u.MustChangePassword = true
		u.TOTPEnabled = true
		u.LastLoginAt = ptr(t0.Add(time.Hour))
		u.LockedUntil = ptr(t0.Add(2 * time.Hour))
		u.PasswordChangedAt = ptr(t0.Add(-time.Hour))
		must(t, s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, u.ID)
		must(t, err)
		if d := cmp.Diff(u, got); d != "" {
			t.Fatalf("GetUser (-want +got):\n%s", d)
		}
		got, err = s.GetUserByUsername(ctx, "alice")
		must(t, err)
		if d := cmp.Diff(u, got); d != "" {
			t.Fatalf("GetUserByUsername (-want +got):\n%s", d)
		}
	}},
	{"CreateWithoutEmailOrRoles", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, n := range []string{"a", "b"} {
			u := newUser(n)
			u.Email, u.EmailKey = "", ""
			u.Status = user.StatusPending
			u.PasswordHash = ""
			must(t, s.CreateUser(ctx, u)) // two users without email do not collide
			got, err := s.GetUser(ctx, u.ID)
			must(t, err)
			if d := cmp.Diff(u, got); d != "" {
				t.Fatalf("GetUser (-want +got):\n%s", d)
			}
		}
	}},
	{"CreateDropsRepeatedRoles", func(t *testing.T, s *store.Store) {
		u := newUser("alice")
		u.Roles = []string{"admin", "viewer", "admin"}
		u.Groups = []string{"user", "user"}
		must(t, s.CreateUser(t.Context(), u))
		got, err := s.GetUser(t.Context(), u.ID)
		must(t, err)
		if d := cmp.Diff([]string{"admin", "viewer"}, got.Roles); d != "" {
			t.Fatalf("roles (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"user"}, got.Groups); d != "" {
			t.Fatalf("groups (-want +got):\n%s", d)
		}
	}},
	{"CreateDuplicates", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		for _, tc := range []struct {
			name string
			edit func(u *user.User)
			code string
		}{
			{"username", func(u *user.User) { u.Email, u.EmailKey = "other@example.com", "other@example.com" }, apperr.CodeUsernameTaken},
			{"email", func(u *user.User) { u.Username, u.UsernameKey = "other", "other" }, apperr.CodeEmailTaken},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := newUser("alice")
				u.ID = "usr_new_" + tc.name
				tc.edit(u)
				wantErr(t, s.CreateUser(ctx, u), apperr.KindConflict, tc.code)
				_, err := s.GetUser(ctx, u.ID)
				wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
			})
		}
	}},
	{"GetMissing", func(t *testing.T, s *store.Store) {
		_, err := s.GetUser(t.Context(), "usr_none")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		_, err = s.GetUserByUsername(t.Context(), "none")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	}},
	{"Update", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		u := newUser("alice")
		u.Roles, u.Groups = []string{"viewer"}, []string{"user"}
		must(t, s.CreateUser(ctx, u))
		want := *u
		want.Username, want.UsernameKey = "Alice2", "alice2"
		want.Email, want.EmailKey = "new@example.com", "new@example.com"
		want.DisplayName = "Alice Two"
		want.Status = user.StatusLocked
		want.Roles = []string{"admin", "viewer"}
		want.Groups = nil
		want.PasswordHash = "$2b$10$abcdefghijklmnopqrstuv"
		want.MustChangePassword, want.TOTPEnabled = true, true
		want.UpdatedAt = t0.Add(time.Minute)
		want.LastLoginAt, want.LockedUntil, want.PasswordChangedAt = ptr(t0.Add(time.Second)), ptr(t0.Add(time.Hour)), ptr(t0)
		got, err := s.UpdateUser(ctx, u.ID, func(x *user.User) error {
			if d := cmp.Diff(u, x); d != "" {
				t.Errorf("fn got (-want +got):\n%s", d)
			}
			*x = want
			x.ID = "usr_changed" // ignored: the id is fixed
			return nil
		})
		must(t, err)
		if d := cmp.Diff(&want, got); d != "" {
			t.Fatalf("UpdateUser returned (-want +got):\n%s", d)
		}
		got, err = s.GetUser(ctx, u.ID)
		must(t, err)
		if d := cmp.Diff(&want, got); d != "" {
			t.Fatalf("GetUser after update (-want +got):\n%s", d)
		}
	}},
	{"UpdateFnErrorAborts", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		_, err := s.UpdateUser(ctx, "usr_alice", func(u *user.User) error {
			u.DisplayName = "changed"
			u.Roles = []string{"admin"}
			return errSentinel
		})
		if err != errSentinel {
			t.Fatalf("UpdateUser = %v, want fn's error as is", err)
		}
		got, err := s.GetUser(ctx, "usr_alice")
		must(t, err)
		if got.DisplayName != "User alice" || got.Roles != nil {
			t.Fatalf("user changed by an aborted update: %+v", got)
		}
	}},
	{"UpdateErrors", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice", "bob")
		_, err := s.UpdateUser(ctx, "usr_none", func(*user.User) error { return nil })
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		_, err = s.UpdateUser(ctx, "usr_bob", func(u *user.User) error {
			u.Email, u.EmailKey = "alice@example.com", "alice@example.com"
			return nil
		})
		wantErr(t, err, apperr.KindConflict, apperr.CodeEmailTaken)
		_, err = s.UpdateUser(ctx, "usr_bob", func(u *user.User) error {
			u.UsernameKey = "alice"
			return nil
		})
		wantErr(t, err, apperr.KindConflict, apperr.CodeUsernameTaken)
	}},
	{"UpdateInCallersTxRollsBack", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		createUsers(t, s, "alice")
		err := s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, "usr_alice", func(u *user.User) error {
				u.Roles = []string{"admin"}
				return nil
			})
			must(t, err)
			return errSentinel
		})
		if err != errSentinel {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, "usr_alice")
		must(t, err)
		if got.Roles != nil {
			t.Fatalf("roles = %v after rollback", got.Roles)
		}
	}},
	{"Delete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		u := newUser("alice")
		u.Roles, u.Groups = []string{"admin"}, []string{"admin"}
		must(t, s.CreateUser(ctx, u))
		createUsers(t, s, "bob")
		ses, rt := sessionFixture("ses_a", "usr_alice", "rt_a")
		must(t, s.CreateSession(ctx, ses, rt))
		must(t, s.CreateOneTimeToken(ctx, ottFixture("ott_a", user.TokenActivation, "usr_alice")))

		must(t, s.DeleteUser(ctx, "usr_alice"))
		_, err := s.GetUser(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		_, err = s.GetSession(ctx, "ses_a")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeSessionNotFound)
		_, err = s.GetRefreshToken(ctx, rk("ses_a", 1, "rt_a"))
		wantErr(t, err, apperr.KindNotFound, "")
		_, err = s.GetOneTimeToken(ctx, "ott_a", user.TokenActivation, t0)
		wantErr(t, err, apperr.KindNotFound, "")
		left, err := s.ListActiveGrants(ctx, []string{"admin"}, []string{"admin"})
		must(t, err)
		if len(left) != 0 {
			t.Fatalf("ListActiveGrants = %v after delete", left)
		}
		wantErr(t, s.DeleteUser(ctx, "usr_alice"), apperr.KindNotFound, apperr.CodeUserNotFound)
		_, err = s.GetUser(ctx, "usr_bob")
		must(t, err)
	}},
	{"List", testListUsers},
	{"ListActiveGrants", testListActiveGrants},
	{"TimesRoundTripExactly", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		est := time.FixedZone("EST", -5*3600)
		for i, tc := range []struct{ in, want time.Time }{
			{t0, t0},
			{time.Unix(0, 0), time.Unix(0, 0).UTC()},
			{time.Date(1900, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 1000, time.UTC)},
			{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
			{time.Date(2025, 6, 1, 7, 0, 0, 1000, est), time.Date(2025, 6, 1, 12, 0, 0, 1000, time.UTC)},
			// Below a microsecond is cut, the same on both engines.
			{time.Date(2025, 6, 1, 12, 0, 0, 1999, time.UTC), time.Date(2025, 6, 1, 12, 0, 0, 1000, time.UTC)},
		} {
			u := newUser(fmt.Sprintf("u%d", i))
			u.CreatedAt, u.LastLoginAt = tc.in, &tc.in
			must(t, s.CreateUser(ctx, u))
			got, err := s.GetUser(ctx, u.ID)
			must(t, err)
			for _, g := range []time.Time{got.CreatedAt, *got.LastLoginAt} {
				if g != tc.want { // == also checks the location is UTC
					t.Errorf("time %v came back as %v, want %v", tc.in, g, tc.want)
				}
			}
		}
		// The zero time (an unset NOT NULL time) round-trips too.
		x, rt := sessionFixture("ses_zero", "usr_u0", "rt_zero")
		x.AuthTime = time.Time{}
		must(t, s.CreateSession(ctx, x, rt))
		got, err := s.GetSession(ctx, x.ID)
		must(t, err)
		if !got.AuthTime.IsZero() {
			t.Errorf("zero AuthTime came back as %v", got.AuthTime)
		}
	}},
	{"LockAdminsSerializes", func(t *testing.T, s *store.Store) {
		// n admins; n concurrent "demote myself unless I am the last admin"
		// transactions must leave exactly one admin, never zero.
		const n = 10
		ctx := t.Context()
		for i := range n {
			u := newUser(fmt.Sprintf("a%d", i))
			u.Roles = []string{"admin"}
			must(t, s.CreateUser(ctx, u))
		}
		errs := inParallel(n, func(i int) error {
			return s.InTx(ctx, func(ctx context.Context) error {
				if err := s.LockAdmins(ctx); err != nil {
					return err
				}
				admins, err := s.ListActiveGrants(ctx, []string{"admin"}, nil)
				if err != nil {
					return err
				}
				if len(admins) < 2 {
					return apperr.Conflict(apperr.CodeLastAdmin, "last admin")
				}
				_, err = s.UpdateUser(ctx, fmt.Sprintf("usr_a%d", i), func(u *user.User) error {
					u.Roles = nil
					return nil
				})
				return err
			})
		})
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if apperr.CodeOf(err) != apperr.CodeLastAdmin {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		admins, err := s.ListActiveGrants(ctx, []string{"admin"}, nil)
		must(t, err)
		if ok != n-1 || len(admins) != 1 {
			t.Fatalf("%d demotions succeeded, %d admins left; want %d and 1", ok, len(admins), n-1)
		}
	}},
}

func testListUsers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	for i := range 25 {
		u := newUser(fmt.Sprintf("user%02d", i))
		if i%5 == 0 {
			u.Status = user.StatusDisabled
		}
		must(t, s.CreateUser(ctx, u))
	}
	special := []*user.User{newUser("zoe"), newUser("zed"), newUser("zack")}
	special[0].DisplayName = "Zoé Ünïcode"
	special[1].DisplayName = "100% sure_thing"
	special[1].Email, special[1].EmailKey = "ZED@Example.COM", "zed@example.com"
	special[2].DisplayName = "1000 sureXthing"
	for _, u := range special {
		must(t, s.CreateUser(ctx, u))
	}
	names := func(us []*user.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.UsernameKey)
		}
		return out
	}
	list := func(q user.ListQuery) []string {
		t.Helper()
		us, err := s.ListUsers(ctx, q)
		must(t, err)
		return names(us)
	}
	for _, tc := range []struct {
		name string
		q    user.ListQuery
		want []string
	}{
		{"first page", user.ListQuery{Limit: 3}, []string{"user00", "user01", "user02"}},
		{"after", user.ListQuery{Limit: 3, After: "user02"}, []string{"user03", "user04", "user05"}},
		{"last page", user.ListQuery{Limit: 10, After: "user24"}, []string{"zack", "zed", "zoe"}},
		{"past the end", user.ListQuery{After: "zz"}, nil},
		{"status", user.ListQuery{Status: user.StatusDisabled}, []string{"user00", "user05", "user10", "user15", "user20"}},
		{"status after", user.ListQuery{Status: user.StatusDisabled, After: "user05", Limit: 2}, []string{"user10", "user15"}},
		{"q username", user.ListQuery{Q: "USER1"}, []string{"user10", "user11", "user12", "user13", "user14", "user15", "user16", "user17", "user18", "user19"}},
		{"q email case-insensitive", user.ListQuery{Q: "zed@EXAMPLE"}, []string{"zed"}},
		{"q display name unicode", user.ListQuery{Q: "zoé ü"}, []string{"zoe"}},
		{"q percent is literal", user.ListQuery{Q: "100%"}, []string{"zed"}},
		{"q underscore is literal", user.ListQuery{Q: "sure_"}, []string{"zed"}},
		{"q and status", user.ListQuery{Q: "user2", Status: user.StatusActive}, []string{"user21", "user22", "user23", "user24"}},
		{"q no match", user.ListQuery{Q: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, list(tc.q)); d != "" {
				t.Fatalf("ListUsers(%+v) (-want +got):\n%s", tc.q, d)
			}
		})
	}
	// Paging through everything visits every user once, in order.
	var all []string
	for after := ""; ; {
		page := list(user.ListQuery{Limit: 7, After: after})
		all = append(all, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1]
	}
	if len(all) != 28 {
		t.Fatalf("paged through %d users, want 28: %v", len(all), all)
	}
	// Listed users carry their roles and groups.
	u := newUser("aaa")
	u.Roles, u.Groups = []string{"admin"}, []string{"user", "admin"}
	must(t, s.CreateUser(ctx, u))
	us, err := s.ListUsers(ctx, user.ListQuery{Limit: 1})
	must(t, err)
	if d := cmp.Diff(u, us[0]); d != "" {
		t.Fatalf("listed user (-want +got):\n%s", d)
	}
}

func testListActiveGrants(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mk := func(name string, status user.Status, roles, groups []string) {
		u := newUser(name)
		u.Status, u.Roles, u.Groups = status, roles, groups
		must(t, s.CreateUser(ctx, u))
	}
	mk("direct", user.StatusActive, []string{"admin", "viewer"}, nil)
	mk("bygroup", user.StatusActive, nil, []string{"admins"})
	mk("both", user.StatusActive, []string{"ops", "admin"}, []string{"user", "admins"})
	mk("disabled", user.StatusDisabled, []string{"admin"}, []string{"admins"})
	mk("locked", user.StatusLocked, []string{"admin"}, nil)
	mk("pending", user.StatusPending, []string{"admin"}, nil)
	mk("viewer", user.StatusActive, []string{"viewer"}, []string{"user"})
	direct := rbac.UserGrants{Roles: []string{"admin", "viewer"}}
	bygroup := rbac.UserGrants{Groups: []string{"admins"}}
	// Every role and group of a matching user comes back, in its order.
	both := rbac.UserGrants{Roles: []string{"ops", "admin"}, Groups: []string{"user", "admins"}}
	viewer := rbac.UserGrants{Roles: []string{"viewer"}, Groups: []string{"user"}}
	for _, tc := range []struct {
		name          string
		roles, groups []string
		want          []rbac.UserGrants
	}{
		{"none", nil, nil, nil},
		{"roles", []string{"admin"}, nil, []rbac.UserGrants{both, direct}},
		{"groups", nil, []string{"admins"}, []rbac.UserGrants{both, bygroup}},
		{"roles or groups, each user once", []string{"admin"}, []string{"admins"}, []rbac.UserGrants{both, bygroup, direct}},
		{"several roles", []string{"admin", "viewer"}, nil, []rbac.UserGrants{both, direct, viewer}},
		{"unknown", []string{"nope"}, []string{"nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListActiveGrants(ctx, tc.roles, tc.groups)
			must(t, err)
			anyOrder := cmpopts.SortSlices(func(a, b rbac.UserGrants) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
			if d := cmp.Diff(tc.want, got, anyOrder, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("ListActiveGrants(%v, %v) (-want +got):\n%s", tc.roles, tc.groups, d)
			}
		})
	}
}

// sessionFixture returns a live session of the user and its first token.
func sessionFixture(id, userID, hash string) (*oauth.Session, *oauth.RefreshToken) {
	x := &oauth.Session{
		ID: id, UserID: userID, ClientID: oauth.BuiltInClientID,
		Scope: []string{"openid", "documents:read"}, Audience: []string{"https://app.example"},
		AuthTime: t0, AMR: []string{"pwd", "otp"},
		CreatedAt: t0, LastUsedAt: t0,
		ExpiresAt: t0.Add(30 * 24 * time.Hour), IdleExpiresAt: t0.Add(7 * 24 * time.Hour),
		IP: "192.0.2.1", UserAgent: "test/1.0", CurrentHash: hash, Generation: 1,
	}
	return x, &oauth.RefreshToken{Hash: hash, SessionID: id, Generation: 1, CreatedAt: t0}
}
