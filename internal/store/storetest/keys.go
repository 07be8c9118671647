package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

var signingKeyTests = []test{
	{"InsertListUpdate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mk := func(kid string, created time.Time) *oauth.SigningKey {
			return &oauth.SigningKey{KID: kid, Alg: "ES256", PrivateSealed: "sealed:" + kid,
				PublicJWK: []byte(`{"kty":"EC","kid":"` + kid + `"}`), CreatedAt: created}
		}
		now := t0.Add(48 * time.Hour)
		retired := mk("k_retired", t0)
		retired.ActivatedAt, retired.RetiredAt, retired.ExpiresAt = ptr(t0), ptr(t0.Add(time.Hour)), ptr(now.Add(time.Minute))
		expired := mk("k_expired", t0.Add(-time.Hour))
		expired.ActivatedAt, expired.RetiredAt, expired.ExpiresAt = ptr(t0), ptr(t0), ptr(now)
		current := mk("k_current", t0.Add(time.Hour))
		current.ActivatedAt = ptr(t0.Add(time.Hour))
		next := mk("k_next", t0.Add(2*time.Hour))
		for _, k := range []*oauth.SigningKey{next, expired, current, retired} {
			must(t, s.InsertSigningKey(ctx, k))
		}
		keys, err := s.ListSigningKeys(ctx, now)
		must(t, err)
		if d := cmp.Diff([]*oauth.SigningKey{retired, current, next}, keys); d != "" {
			t.Fatalf("ListSigningKeys (-want +got):\n%s", d)
		}

		next.ActivatedAt = ptr(now)
		current.RetiredAt, current.ExpiresAt = ptr(now), ptr(now.Add(time.Hour))
		must(t, s.UpdateSigningKey(ctx, next))
		must(t, s.UpdateSigningKey(ctx, current))
		keys, err = s.ListSigningKeys(ctx, now.Add(30*time.Minute))
		must(t, err)
		if d := cmp.Diff([]*oauth.SigningKey{current, next}, keys); d != "" {
			t.Fatalf("ListSigningKeys after rotation (-want +got):\n%s", d)
		}
		wantErr(t, s.UpdateSigningKey(ctx, mk("k_none", t0)), apperr.KindNotFound, "")
	}},
}

var revocationTests = []test{
	{"InsertListDelete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		now := t0.Add(time.Hour)
		entries := []*oauth.Revocation{
			{Kind: oauth.RevokeJTI, Value: "jti_1", RevokedAt: t0, ExpiresAt: now.Add(-time.Second)}, // expired at now
			{Kind: oauth.RevokeSession, Value: "ses_1", RevokedAt: t0, ExpiresAt: now.Add(time.Minute)},
			{Kind: oauth.RevokeSubject, Value: "usr_1", RevokedAt: t0.Add(time.Second), ExpiresAt: now.Add(time.Hour)},
			{Kind: oauth.RevokeJTI, Value: "jti_2", RevokedAt: t0, ExpiresAt: now.Add(2 * time.Hour)},
		}
		var last int64
		for _, r := range entries {
			seq, err := s.InsertRevocation(ctx, r)
			must(t, err)
			if seq <= last {
				t.Fatalf("seq %d after %d: not increasing", seq, last)
			}
			if r.Seq != seq {
				t.Fatalf("r.Seq = %d, returned %d", r.Seq, seq)
			}
			last = seq
		}
		got, err := s.ListRevocations(ctx, 0, now)
		must(t, err)
		if d := cmp.Diff(entries[1:], got); d != "" {
			t.Fatalf("ListRevocations(0) (-want +got):\n%s", d)
		}
		got, err = s.ListRevocations(ctx, entries[2].Seq, now)
		must(t, err)
		if d := cmp.Diff(entries[3:], got); d != "" {
			t.Fatalf("ListRevocations(after) (-want +got):\n%s", d)
		}
		got, err = s.ListRevocations(ctx, last, now)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ListRevocations(last) = %v", got)
		}

		n, err := s.DeleteExpiredRevocations(ctx, now.Add(90*time.Minute))
		must(t, err)
		if n != 3 {
			t.Fatalf("DeleteExpiredRevocations = %d, want 3", n)
		}
		got, err = s.ListRevocations(ctx, 0, now)
		must(t, err)
		if d := cmp.Diff(entries[3:], got); d != "" {
			t.Fatalf("ListRevocations after delete (-want +got):\n%s", d)
		}
	}},
	{"SeqNotReusedAfterDelete", func(t *testing.T, s *store.Store) {
		// A poller that saw the newest entry must see the next one even if
		// the newest was deleted in between.
		ctx := t.Context()
		r := &oauth.Revocation{Kind: oauth.RevokeJTI, Value: "a", RevokedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		seq, err := s.InsertRevocation(ctx, r)
		must(t, err)
		_, err = s.DeleteExpiredRevocations(ctx, t0.Add(time.Hour))
		must(t, err)
		r2 := &oauth.Revocation{Kind: oauth.RevokeJTI, Value: "b", RevokedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}
		seq2, err := s.InsertRevocation(ctx, r2)
		must(t, err)
		if seq2 <= seq {
			t.Fatalf("seq %d reused after %d was deleted", seq2, seq)
		}
		got, err := s.ListRevocations(ctx, seq, t0)
		must(t, err)
		if d := cmp.Diff([]*oauth.Revocation{r2}, got); d != "" {
			t.Fatalf("ListRevocations (-want +got):\n%s", d)
		}
	}},
}
