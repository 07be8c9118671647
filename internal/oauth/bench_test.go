package oauth_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/signing"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/user"
)

const benchIssuer = "https://gatehouse.bench"

// benchSystem is the oauth.Service wired as app.open wires it, on a real
// migrated store.
type benchSystem struct {
	svc   *oauth.Service
	users *user.Service
	keys  *oauth.KeyManager
}

func newBenchSystem(b testing.TB, st *store.Store) *benchSystem {
	b.Helper()
	ctx := context.Background()
	rec := audit.NewRecorder(st, storetest.ChainKey)
	rb := rbac.NewService(st, rec)
	if err := rb.EnsureDefaults(ctx); err != nil {
		b.Fatal(err)
	}
	// Cheap hashing: the benchmarks below sign in only to set up sessions.
	hasher := user.NewHasher(user.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 4, 64)
	rev := oauth.NewRevocations(st, rec, 15*time.Minute)
	if err := rev.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	users := user.NewService(st, rb, rec, hasher, user.DefaultPolicy(), user.DefaultLockoutPolicy(), rev)
	kr, err := secret.NewKeyring(secret.RandomBytes(32))
	if err != nil {
		b.Fatal(err)
	}
	keys := oauth.NewKeyManager(st, kr, rec, signing.ES256, 30*24*time.Hour, 15*time.Minute)
	if _, err := keys.Ensure(ctx, false); err != nil {
		b.Fatal(err)
	}
	svc := oauth.NewService(oauth.Options{
		Issuer: benchIssuer, Audiences: []string{benchIssuer}, AccessTTL: 15 * time.Minute, IDTokenTTL: 15 * time.Minute,
		RefreshTTL: 30 * 24 * time.Hour, RefreshIdleTTL: 7 * 24 * time.Hour, ReuseGrace: 10 * time.Second,
		RoleClaims: true, PasswordGrant: true,
	}, oauth.Deps{Store: st, Users: users, UserStore: st, RBAC: rb, Audit: rec, Keys: keys, Revocations: rev})
	if err := svc.EnsureBuiltInClient(ctx); err != nil {
		b.Fatal(err)
	}
	return &benchSystem{svc: svc, users: users, keys: keys}
}

// confidentialClient registers a client_credentials client and returns its id and secret.
func (s *benchSystem) confidentialClient(b *testing.B) (string, string) {
	b.Helper()
	c, sec, err := s.svc.CreateClient(context.Background(), oauth.NewClient{Name: "bench", Type: oauth.ClientConfidential,
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{rbac.PermTokensIntrospect, rbac.PermDocumentsRead}})
	if err != nil {
		b.Fatal(err)
	}
	return c.ID, sec
}

// signIn creates a user and returns the refresh tokens of n password-grant sessions.
func (s *benchSystem) signIn(b testing.TB, n int) []string {
	b.Helper()
	ctx := context.Background()
	pw := "purple tractor evening river"
	if _, _, err := s.users.Create(ctx, user.NewUser{Username: "bench", Email: "bench@example.com", DisplayName: "Bench", Password: &pw}); err != nil {
		b.Fatal(err)
	}
	out := make([]string, n)
	for i := range out {
		resp, err := s.svc.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "bench", Password: pw, Scope: "openid profile"})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = resp.RefreshToken
	}
	return out
}

func benchSQLite(b *testing.B) *store.Store {
	b.Helper()
	return storetest.BenchEngines(b)[store.EngineSQLite](b)
}

// BenchmarkVerifyAccessToken measures access-token verification as the API,
// introspection and userinfo call it: cached (a token seen before: SHA-256
// and map lookups) and uncached (a fresh token: the ES256 signature check,
// JSON decoding and claim checks, then the cache insert).
func BenchmarkVerifyAccessToken(b *testing.B) {
	sys := newBenchSystem(b, benchSQLite(b))
	id, sec := sys.confidentialClient(b)
	resp, err := sys.svc.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: id, ClientSecret: sec})
	if err != nil {
		b.Fatal(err)
	}
	aud := []string{benchIssuer}

	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sys.svc.VerifyAccessToken(resp.AccessToken, aud); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("uncached", func(b *testing.B) {
		// Tokens are minted in batches with the timer stopped, with the
		// claims mintAccess gives a client_credentials token and a unique jti.
		const batch = 256
		signer := sys.keys.Signer()
		var toks []string
		mint := func() {
			toks = toks[:0]
			now := time.Now()
			for range batch {
				c := oauth.AccessClaims{Claims: signing.Claims{Issuer: benchIssuer, Subject: id, Audience: signing.Audience{benchIssuer},
					IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(15 * time.Minute).Unix(), ID: secret.Token()[:22]},
					ClientID: id, Scope: "documents:read tokens:introspect"}
				t, err := signer.Sign(c, oauth.TypAccessToken)
				if err != nil {
					b.Fatal(err)
				}
				toks = append(toks, t)
			}
		}
		mint()
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if i == len(toks) {
				b.StopTimer()
				mint()
				i = 0
				b.StartTimer()
			}
			if _, err := sys.svc.VerifyAccessToken(toks[i], aud); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkIntrospectJWT is RFC 7662 introspection of a (cached) JWT access
// token, without HTTP.
func BenchmarkIntrospectJWT(b *testing.B) {
	sys := newBenchSystem(b, benchSQLite(b))
	id, sec := sys.confidentialClient(b)
	resp, err := sys.svc.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: id, ClientSecret: sec})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := sys.svc.Introspect(ctx, resp.AccessToken, ""); out["active"] != true {
			b.Fatalf("introspection: %v", out)
		}
	}
}

// BenchmarkClientCredentialsGrant is one client_credentials grant: client
// authentication (cached), one ES256 signature, one audit event written in
// its own transaction; on each engine.
func BenchmarkClientCredentialsGrant(b *testing.B) {
	for name, newStore := range storetest.BenchEngines(b) {
		b.Run(name, func(b *testing.B) {
			sys := newBenchSystem(b, newStore(b))
			id, sec := sys.confidentialClient(b)
			ctx := audit.WithRequest(context.Background(), audit.Request{IP: "127.0.0.1", UserAgent: "bench", ID: "req_bench"})
			req := oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: id, ClientSecret: sec, ClientAuthBasic: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sys.svc.Token(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefreshGrant rotates refresh tokens as a client chaining them
// does (each response's refresh_token is the next request's), with an ID
// token (scope openid profile) and the audit event, on each engine:
// serial is one chain; parallel is one chain per goroutine
// (GOMAXPROCS×4 goroutines), which on SQLite meet at the single writer.
func BenchmarkRefreshGrant(b *testing.B) {
	for name, newStore := range storetest.BenchEngines(b) {
		b.Run(name+"/serial", func(b *testing.B) {
			sys := newBenchSystem(b, newStore(b))
			rt := sys.signIn(b, 1)[0]
			ctx := audit.WithRequest(context.Background(), audit.Request{IP: "127.0.0.1", UserAgent: "bench", ID: "req_bench"})
			b.ReportAllocs()
			for b.Loop() {
				resp, err := sys.svc.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: rt})
				if err != nil {
					b.Fatal(err)
				}
				rt = resp.RefreshToken
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			sys := newBenchSystem(b, newStore(b))
			const par = 4
			chains := make(chan string, runtime.GOMAXPROCS(0)*par)
			for _, rt := range sys.signIn(b, cap(chains)) {
				chains <- rt
			}
			ctx := audit.WithRequest(context.Background(), audit.Request{IP: "127.0.0.1", UserAgent: "bench", ID: "req_bench"})
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rt := <-chains // RunParallel starts at most GOMAXPROCS×par goroutines
				for pb.Next() {
					resp, err := sys.svc.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: rt})
					if err != nil {
						b.Error(err)
						return
					}
					rt = resp.RefreshToken
				}
			})
		})
	}
}
