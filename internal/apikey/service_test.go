package apikey_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestCreateGetList(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		k, raw := e.create(t, apikey.NewKey{Name: "ci", Permissions: []string{"reviews:read", "documents:read", "reviews:read"},
			ExpiresIn: time.Hour, RateLimit: &apikey.Limit{Limit: 10, Window: time.Minute}, Quota: ptr(int64(5)),
			Prefix: "kx_live", Metadata: map[string]string{"env": "ci"}})
		prefix, random, err := apikey.Parse(raw)
		if err != nil || prefix != "kx_live" {
			t.Fatalf("Parse(secret) = %q, %v", prefix, err)
		}
		want := &apikey.Key{ID: k.ID, Name: "ci", Prefix: "kx_live", Hint: "kx_live_" + random[:4], OwnerID: alice,
			Permissions: []string{"documents:read", "reviews:read"}, Metadata: map[string]string{"env": "ci"},
			ExpiresAt: ptr(t0.Add(time.Hour)), RateLimit: &apikey.Limit{Limit: 10, Window: time.Minute},
			Quota: ptr(int64(5)), QuotaRemaining: ptr(int64(5)), Status: apikey.StatusActive,
			CreatedAt: t0, UpdatedAt: t0, Hash: secret.Hash(raw)}
		if d := cmp.Diff(want, k); d != "" {
			t.Fatalf("Create (-want +got):\n%s", d)
		}
		if !strings.HasPrefix(k.ID, "key_") {
			t.Errorf("id %q", k.ID)
		}
		got, err := e.svc.Get(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("Get (-want +got):\n%s", d)
		}
		_, _ = e.create(t, apikey.NewKey{OwnerID: "usr_bob"})
		mine, err := e.svc.List(ctx, alice)
		if err != nil || len(mine) != 1 || mine[0].ID != k.ID {
			t.Fatalf("List(alice) = %v, %v", mine, err)
		}
		all, err := e.svc.List(ctx, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("List() = %d keys, %v", len(all), err)
		}
		_, err = e.svc.Get(ctx, "key_none")
		if apperr.CodeOf(err) != apikey.CodeKeyNotFound || !apperr.Is(err, apperr.KindNotFound) {
			t.Fatalf("Get(unknown) = %v", err)
		}
		// Default prefix.
		_, raw2 := e.create(t, apikey.NewKey{})
		if !strings.HasPrefix(raw2, "gk_") {
			t.Errorf("default-prefix key %s", raw2[:3])
		}
		wantAudit(t, e, k.ID, []string{"key.created"}, raw)
	})
}

// wantAudit checks the key's audit actions, and that no event holds the
// secret or its hash.
func wantAudit(t *testing.T, e *env, keyID string, actions []string, secrets ...string) {
	t.Helper()
	events, err := e.st.ListAudit(t.Context(), audit.Query{TargetID: keyID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range slices.Backward(events) {
		got = append(got, ev.Action)
		if ev.Target.Type != audit.TypeKey {
			t.Errorf("%s target type %q", ev.Action, ev.Target.Type)
		}
		b, _ := json.Marshal(ev.Metadata)
		for _, s := range secrets {
			if strings.Contains(string(b), s) || strings.Contains(string(b), secret.Hash(s)) {
				t.Errorf("%s metadata holds a secret: %s", ev.Action, b)
			}
		}
	}
	if d := cmp.Diff(actions, got); d != "" {
		t.Errorf("audit actions (-want +got):\n%s", d)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, newSQLite(t))
	e.owners.set("usr_bob", false, "documents:read")
	many := map[string]string{}
	for i := range 17 {
		many[string(rune('a'+i))] = "v"
	}
	for _, tc := range []struct {
		name   string
		in     apikey.NewKey
		fields []string
	}{
		{"no name", apikey.NewKey{Name: "", OwnerID: alice}, []string{"name"}},
		{"long name", apikey.NewKey{Name: strings.Repeat("n", 129), OwnerID: alice}, []string{"name"}},
		{"control in name", apikey.NewKey{Name: "a\nb", OwnerID: alice}, []string{"name"}},
		{"bad prefix", apikey.NewKey{Name: "k", OwnerID: alice, Prefix: "Live"}, []string{"prefix"}},
		{"short expiry", apikey.NewKey{Name: "k", OwnerID: alice, ExpiresIn: 30 * time.Second}, []string{"expires_in"}},
		{"negative expiry", apikey.NewKey{Name: "k", OwnerID: alice, ExpiresIn: -time.Hour}, []string{"expires_in"}},
		{"rate limit", apikey.NewKey{Name: "k", OwnerID: alice, RateLimit: &apikey.Limit{Limit: 0, Window: time.Millisecond}},
			[]string{"ratelimit.limit", "ratelimit.window"}},
		{"quota", apikey.NewKey{Name: "k", OwnerID: alice, Quota: ptr(int64(0))}, []string{"quota"}},
		{"metadata", apikey.NewKey{Name: "k", OwnerID: alice, Metadata: many}, []string{"metadata"}},
		{"permission syntax", apikey.NewKey{Name: "k", OwnerID: alice, Permissions: []string{"documents"}}, []string{"permissions"}},
		{"beyond the owner", apikey.NewKey{Name: "k", OwnerID: alice, Permissions: []string{"documents:read", "users:manage"}},
			[]string{"permissions"}},
		{"no owner", apikey.NewKey{Name: "k"}, []string{"owner_id"}},
		{"unknown owner", apikey.NewKey{Name: "k", OwnerID: "usr_none"}, []string{"owner_id"}},
		{"inactive owner", apikey.NewKey{Name: "k", OwnerID: "usr_bob"}, []string{"owner_id"}},
		{"everything", apikey.NewKey{Prefix: "_", Quota: ptr(int64(-1)), OwnerID: alice}, []string{"name", "prefix", "quota"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, raw, err := e.svc.Create(t.Context(), tc.in)
			ae, ok := apperr.As(err)
			if !ok || ae.Kind != apperr.KindInvalid || raw != "" {
				t.Fatalf("Create = %v, want a 422", err)
			}
			if d := cmp.Diff(tc.fields, slices.Sorted(maps.Keys(ae.Fields))); d != "" {
				t.Fatalf("fields (-want +got):\n%s\n%v", d, ae.Fields)
			}
		})
	}
	if keys, _ := e.svc.List(t.Context(), ""); len(keys) != 0 {
		t.Fatalf("invalid requests stored %d keys", len(keys))
	}
}

func TestRevoke(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		k, raw := e.create(t, apikey.NewKey{})
		wantCode(t, verify(t, e.svc, raw), "")
		if err := e.svc.Revoke(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		// At once on this instance, with no wait for the cache.
		res := verify(t, e.svc, raw)
		wantCode(t, res, apikey.Revoked)
		if res.Key == nil || res.Key.ID != k.ID || res.Key.Hash != "" {
			t.Fatalf("REVOKED result key = %+v", res.Key)
		}
		if err := e.svc.Revoke(ctx, k.ID); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		got, err := e.svc.Get(ctx, k.ID)
		if err != nil || got.Status != apikey.StatusRevoked || got.RevokedAt == nil || !got.RevokedAt.Equal(t0) {
			t.Fatalf("revoked key = %+v, %v", got, err)
		}
		if err := e.svc.Revoke(ctx, "key_none"); apperr.CodeOf(err) != apikey.CodeKeyNotFound {
			t.Fatalf("Revoke(unknown) = %v", err)
		}
		wantAudit(t, e, k.ID, []string{"key.created", "key.revoked"}, raw)
	})
}

func TestRevocationReachesOtherInstances(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		other := e.newService()
		k, raw := e.create(t, apikey.NewKey{})
		wantCode(t, verify(t, e.svc, raw), "")
		wantCode(t, verify(t, other, raw), "")
		if err := e.svc.Revoke(t.Context(), k.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, verify(t, e.svc, raw), apikey.Revoked)
		// The other instance answers from its cache until the TTL ends.
		e.clock.advance(apikey.DefaultCacheTTL - time.Microsecond)
		wantCode(t, verify(t, other, raw), "")
		e.clock.advance(time.Microsecond)
		wantCode(t, verify(t, other, raw), apikey.Revoked)
	})
}

func TestRotation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		other := e.newService()
		k, oldRaw := e.create(t, apikey.NewKey{Prefix: "kx_live"})
		wantCode(t, verify(t, other, oldRaw), "")
		e.clock.advance(time.Minute)
		rk, newRaw, err := e.svc.Rotate(ctx, k.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if newRaw == oldRaw || !strings.HasPrefix(newRaw, "kx_live_") || rk.Hash != secret.Hash(newRaw) ||
			rk.PrevHash != secret.Hash(oldRaw) || !rk.PrevExpiresAt.Equal(t0.Add(time.Minute+time.Hour)) || rk.Hint != apikey.Hint(newRaw) {
			t.Fatalf("rotated key = %+v", rk)
		}
		for _, svc := range []*apikey.Service{e.svc, other} {
			wantCode(t, verify(t, svc, oldRaw), "")
			wantCode(t, verify(t, svc, newRaw), "")
		}
		e.clock.advance(time.Hour - time.Microsecond)
		wantCode(t, verify(t, e.svc, oldRaw), "")
		e.clock.advance(time.Microsecond)
		for _, svc := range []*apikey.Service{e.svc, other} {
			wantCode(t, verify(t, svc, oldRaw), apikey.NotFound)
			wantCode(t, verify(t, svc, newRaw), "")
		}
		// Without grace the old secret stops at once here.
		_, newer, err := e.svc.Rotate(ctx, k.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, verify(t, e.svc, newRaw), apikey.NotFound)
		wantCode(t, verify(t, e.svc, newer), "")
		for _, g := range []time.Duration{-time.Second, apikey.MaxGrace + time.Second} {
			if _, _, err := e.svc.Rotate(ctx, k.ID, g); !apperr.Is(err, apperr.KindInvalid) {
				t.Errorf("Rotate(grace %v) = %v, want 422", g, err)
			}
		}
		if err := e.svc.Revoke(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Rotate(ctx, k.ID, 0); apperr.CodeOf(err) != apikey.CodeKeyRevoked {
			t.Fatalf("Rotate(revoked) = %v", err)
		}
		if _, _, err := e.svc.Rotate(ctx, "key_none", 0); apperr.CodeOf(err) != apikey.CodeKeyNotFound {
			t.Fatalf("Rotate(unknown) = %v", err)
		}
		wantAudit(t, e, k.ID, []string{"key.created", "key.rotated", "key.rotated", "key.revoked"}, oldRaw, newRaw, newer)
	})
}
