package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/user"
)

func (e cmdEnv) serve(args []string) error {
	cfg, err := loadConfig(args, e.getenv, e.environ, e.io.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(newLogger(cfg, e.io.Stderr))
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	s, err := open(ctx, cfg, e.io.Stderr, true)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.bootstrap(ctx, e.io.Stderr); err != nil {
		return err
	}
	limited := limitMemory(e.getenv, s.hasher, cfg.Hash.Workers, cfg.Hash.MemoryKiB)
	handler, err := server.New(server.Deps{
		Users: s.users, UserStore: s.store, RBAC: s.rbac, OAuth: s.oauth, MFA: s.mfa, Keys: s.apiKeys, Audit: s.audit, AuditStore: s.store,
		Issuer: cfg.Issuer, Audiences: cfg.TokenAudience, TrustedProxies: cfg.TrustedProxies, BodyLimit: cfg.BodyLimitBytes,
		MFARequiredRoles: cfg.MFARequiredRoles, Version: Version, Ready: s.ready, Reads: s.store,
		Limiter: s.limiter, APIPerIP: cfg.RateLimit.APIPerIP, CredentialPerIP: cfg.RateLimit.LoginPerIP,
		VerifyFailuresPerIP: cfg.RateLimit.VerifyFailuresPerIP, RefusalDelay: cfg.RateLimit.RefusalDelay,
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.keys.Run(ctx, 30*time.Second) })
	wg.Go(func() { s.revocations.Run(ctx, time.Second) })
	wg.Go(func() { s.pruneSessions(ctx, 10*time.Minute) })
	// Replays are pruned every 5 s, or every grace when that is shorter
	// (at least every second): a replay outlives its grace by at most two
	// intervals.
	wg.Go(func() { s.oauth.NewReplayPruner(min(5*time.Second, max(cfg.RefreshReuseGrace, time.Second))).Run(ctx) })
	if limited {
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			returnIdleWorkAreas(ctx, s.hasher.Hashed, t.C, debug.FreeOSMemory)
		})
	}
	// Key usage and batched audit events drain after the HTTP server has
	// finished its last request, so a clean shutdown loses neither.
	drain, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { s.apiKeys.Run(drain) })
	wg.Go(func() { s.auditBatch.Run(drain) })
	defer wg.Wait()
	defer cancel()
	defer stopDrain()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another process using the port? set GATEHOUSE_LISTEN)", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	tlsOn := cfg.TLSCertFile != ""
	if tlsOn {
		rl, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: rl.get}
	}
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	slog.Info("gatehouse is serving", "version", Version, "addr", ln.Addr().String(), "issuer", cfg.Issuer,
		"database", s.store.Engine(), "tls", tlsOn)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	slog.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// memLimitHeadroom is the Go memory ceiling's room beyond the work areas
// (the heap between sign-ins, stacks): 8 MiB keeps the peak of the load test
// under 100 MB at an unchanged sign-in rate; 16 MiB let it reach 107 MiB, and
// none at all halves the sign-in rate, each hash faulting its work area back
// in (docs/benchmarks.md, 2026-12-05).
const memLimitHeadroom = 8 << 20

// limitMemory keeps memory low without making the collector return the
// argon2id work areas to the kernel between hashes (a tight memory limit
// did: each sign-in then faulted 19 MiB back in). Unless GOGC or GOMEMLIMIT
// is set, each hash starts with a collection, so the work areas of finished
// hashes are free and reused (a handful of page faults per sign-in instead
// of hundreds) and at most one per worker is live; between sign-ins the Go
// default of GOGC=100 applies, which keeps the collector's share of a
// refresh-token or API load low. A ceiling with room for one and a half
// work areas per worker and memLimitHeadroom backs both. The start-up
// hashes are returned at once. It reports whether it set the policy (then
// returnIdleWorkAreas should run). Figures: docs/benchmarks.md.
func limitMemory(getenv func(string) string, hasher *user.Hasher, workers, memoryKiB int) bool {
	defer debug.FreeOSMemory()
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetMemoryLimit(int64(3*workers*memoryKiB)<<9 + memLimitHeadroom)
	hasher.BeforeHash = runtime.GC
	return true
}

// returnIdleWorkAreas gives the free argon2id work areas back to the kernel
// (free) once sign-ins pause: at a tick when no hash ran since the previous
// one but some ran since the last return. Otherwise the collector keeps them
// mapped, up to the memory ceiling, and whatever load comes next adds its own
// memory on top (the load test's peak). The next burst faults them back in,
// a few milliseconds once.
func returnIdleWorkAreas(ctx context.Context, hashed func() uint64, tick <-chan time.Time, free func()) {
	last := hashed()
	returned := last
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		n := hashed()
		if n == last && n != returned {
			free()
			returned = n
		}
		last = n
	}
}

// pruneSessions deletes sessions that ended more than a day ago.
func (s *system) pruneSessions(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.store.DeleteExpiredSessions(ctx, time.Now().UTC().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
				slog.Warn("pruning sessions failed", "err", err)
			} else if n > 0 {
				slog.Debug("pruned sessions", "count", n)
			}
		}
	}
}

// certReloader serves the certificate and reloads it when the files change,
// so a renewed certificate needs no restart.
type certReloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	modTime           time.Time
	checked           time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	st, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate and key (GATEHOUSE_TLS_CERT_FILE, GATEHOUSE_TLS_KEY_FILE): %w", err)
	}
	r.cert, r.modTime = &cert, st.ModTime()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) > 10*time.Second {
		r.checked = time.Now()
		if st, err := os.Stat(r.certFile); err == nil && !st.ModTime().Equal(r.modTime) {
			if err := r.load(); err != nil {
				slog.Error("reloading the TLS certificate failed; keeping the old one", "err", err)
			} else {
				slog.Info("reloaded the TLS certificate")
			}
		}
	}
	return r.cert, nil
}
