package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

var benchT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func benchUser(i int) *user.User {
	name := fmt.Sprintf("user%05d", i)
	return &user.User{
		ID: "usr_" + name, Username: name, UsernameKey: name,
		Email: name + "@example.com", EmailKey: name + "@example.com", DisplayName: "User " + name,
		Status: user.StatusActive, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles: []string{"viewer", "reviewer"}, Groups: []string{"user"},
		CreatedAt: benchT0, UpdatedAt: benchT0,
	}
}

// rotator performs the refresh grant's storage work on one session: read the
// presented token with its session and user, then in one transaction advance
// the session, record the rotation and the successor, and append the audit
// event. Token hashes are SHA-256 values, as the grant stores them, so each
// rotation's index entries land on random pages as in production.
type rotator struct {
	s       *store.Store
	user    string
	session string
	gen     int
	sealed  []byte
}

// benchTokenHash is the stored hash of a session's token of generation gen.
func benchTokenHash(session string, gen int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", session, gen))
	return hex.EncodeToString(sum[:])
}

func newRotator(ctx context.Context, s *store.Store, userID, session string) (*rotator, error) {
	x := &oauth.Session{
		ID: session, UserID: userID, ClientID: oauth.BuiltInClientID,
		Scope: []string{"openid", "documents:read"}, Audience: []string{"https://app.example"},
		AuthTime: benchT0, AMR: []string{"pwd"}, CreatedAt: benchT0, LastUsedAt: benchT0,
		ExpiresAt: benchT0.Add(30 * 24 * time.Hour), IdleExpiresAt: benchT0.Add(7 * 24 * time.Hour),
		IP: "192.0.2.1", UserAgent: "bench/1.0", CurrentHash: benchTokenHash(session, 0),
	}
	rt := &oauth.RefreshToken{Hash: x.CurrentHash, SessionID: session, CreatedAt: benchT0}
	if err := s.CreateSession(ctx, x, rt); err != nil {
		return nil, err
	}
	// A sealed successor response: an access token, a refresh token, AEAD overhead.
	return &rotator{s: s, user: userID, session: session, sealed: bytes.Repeat([]byte{0xa5}, 700)}, nil
}

// newRotators creates n users, each with one session, for rotations spread
// over many sessions and users (their index pages), as under real load.
func newRotators(ctx context.Context, s *store.Store, first, n int) ([]*rotator, error) {
	rs := make([]*rotator, n)
	err := s.InTx(ctx, func(ctx context.Context) error {
		for i := range rs {
			u := benchUser(first + i)
			if err := s.CreateUser(ctx, u); err != nil {
				return err
			}
			r, err := newRotator(ctx, s, u.ID, fmt.Sprintf("ses_bench%05d", first+i))
			if err != nil {
				return err
			}
			rs[i] = r
		}
		return nil
	})
	return rs, err
}

func (r *rotator) rotate(ctx context.Context) error {
	s := r.s
	old := benchTokenHash(r.session, r.gen)
	next := benchTokenHash(r.session, r.gen+1)
	now := benchT0.Add(time.Duration(r.gen+1) * time.Second)
	f, err := s.GetRefreshFamily(ctx, oauth.RefreshKey{Hash: old, SessionID: r.session, Generation: r.gen})
	if err != nil {
		return err
	}
	rt := f.Token
	err = s.InTx(ctx, func(ctx context.Context) error {
		adv := oauth.SessionAdvance{ID: rt.SessionID, ClientID: oauth.BuiltInClientID, From: old, To: next, Now: now, IdleUntil: now.Add(7 * 24 * time.Hour)}
		if ok, err := s.AdvanceSession(ctx, &adv); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("session %s did not advance", rt.SessionID)
		}
		rotated := *rt
		rotated.RotatedAt, rotated.Successor = &now, r.sealed
		if err := s.RotateRefreshToken(ctx, &rotated, &oauth.RefreshToken{Hash: next, SessionID: rt.SessionID, Generation: adv.Generation, CreatedAt: now}); err != nil {
			return err
		}
		head, err := s.AuditHead(ctx)
		if err != nil {
			return err
		}
		seq, prev := head.Seq, head.Hash
		e := &audit.Event{
			ID: fmt.Sprintf("evt_%s_%d", r.session, r.gen), Seq: seq + 1, Time: now,
			Actor:  audit.Ref{Type: audit.TypeUser, ID: r.user},
			Action: "token.refreshed", Target: audit.Ref{Type: audit.TypeSession, ID: r.session},
			Outcome: audit.OutcomeSuccess, IP: "192.0.2.1", UserAgent: "bench/1.0", RequestID: "req",
			Metadata: map[string]any{"client_id": oauth.BuiltInClientID, "generation": r.gen + 1},
			PrevHash: prev,
		}
		e.Hash = fmt.Sprintf("%064d", seq+1) // the store's cost only, not SHA-256
		return s.InsertAudit(ctx, e.Hash, e)
	})
	if err != nil {
		return err
	}
	r.gen++
	return nil
}

// sessionsPerClient is how many sessions (each with its own user) every
// parallel client of BenchmarkRefreshRotation rotates in turn.
const sessionsPerClient = 64

// BenchmarkRefreshRotation measures the refresh grant's storage work: one
// GetRefreshFamily and one transaction of AdvanceSession,
// RotateRefreshToken, AuditHead and InsertAudit. "serial" is one
// client's latency; "parallel" is throughput with GOMAXPROCS×4 clients,
// each rotating its own sessionsPerClient sessions in turn, so that the
// index pages a group of rotations touches are as scattered as under real
// load.
func BenchmarkRefreshRotation(b *testing.B) {
	for name, newStore := range storetest.BenchEngines(b) {
		b.Run(name+"/serial", func(b *testing.B) {
			s := newStore(b)
			if err := s.CreateUser(b.Context(), benchUser(0)); err != nil {
				b.Fatal(err)
			}
			r, err := newRotator(b.Context(), s, "usr_user00000", "ses_bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.rotate(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			s := newStore(b)
			const parallelism = 4
			clients := parallelism * runtime.GOMAXPROCS(0)
			all, err := newRotators(b.Context(), s, 1, clients*sessionsPerClient)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(parallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := int(next.Add(1)-1) % clients
				rs := all[c*sessionsPerClient : (c+1)*sessionsPerClient]
				for i := 0; pb.Next(); i++ {
					if err := rs[i%len(rs)].rotate(context.Background()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
		})
	}
}

// BenchmarkGetUserByUsername looks users up among 10,000 (the password
// grant's first step).
func BenchmarkGetUserByUsername(b *testing.B) {
	const n = 10000
	for name, newStore := range storetest.BenchEngines(b) {
		b.Run(name, func(b *testing.B) {
			s := newStore(b)
			err := s.InTx(b.Context(), func(ctx context.Context) error {
				for i := range n {
					if err := s.CreateUser(ctx, benchUser(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, n)
			for i := range keys {
				keys[i] = benchUser((i * 7919) % n).UsernameKey // a spread-out order
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				u, err := s.GetUserByUsername(b.Context(), keys[i%n])
				if err != nil || len(u.Roles) != 2 {
					b.Fatalf("GetUserByUsername = %+v, %v", u, err)
				}
				i++
			}
		})
	}
}
