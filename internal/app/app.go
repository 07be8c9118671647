// Package app wires Gatehouse together: configuration, store, services and
// the HTTP server, for `gatehouse serve` and every other command. It is the
// only package that knows them all.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/rbac"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=…".
var Version = "dev"

// IO is where a command reads and writes.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Exit codes (SPEC §14).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError marks an error as a usage mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// system is every service, built from the configuration. Commands and serve share it.
type system struct {
	cfg         config.Config
	keyring     *secret.Keyring
	store       *store.Store
	audit       *audit.Recorder
	rbac        *rbac.Service
	users       *user.Service
	oauth       *oauth.Service
	keys        *oauth.KeyManager
	revocations *oauth.Revocations
	hasher      *user.Hasher
	mfa         *mfa.Service
	apiKeys     *apikey.Service
	auditBatch  *audit.Batcher
	auditKey    []byte
	limiter     ratelimit.Limiter
	redis       *redis.Client
}

// newLimiter returns the Redis-backed limiter when GATEHOUSE_REDIS_URL is
// set (shared by every instance of a cluster), else an in-process one.
// Redis calls fail fast so credential endpoints fail closed quickly.
func newLimiter(ctx context.Context, cfg config.Config) (ratelimit.Limiter, *redis.Client, error) {
	if cfg.RedisURL.IsZero() {
		return ratelimit.NewMemory(ratelimit.DefaultMaxKeys), nil, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL.Reveal())
	if err != nil {
		return nil, nil, errors.New("GATEHOUSE_REDIS_URL is not a valid redis:// or rediss:// URL")
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	opts.DialerRetries, opts.MaxRetries = 1, 1
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("the Redis server at GATEHOUSE_REDIS_URL does not answer: %w", err)
	}
	return ratelimit.NewRedis(c, cfg.RedisPrefix+"rl:"), c, nil
}

// keyOwners tells the apikey service a key owner's current permissions.
type keyOwners struct {
	users *user.Service
	rbac  *rbac.Service
}

func (o keyOwners) Owner(ctx context.Context, ownerID string) ([]string, bool, error) {
	u, err := o.users.Get(ctx, ownerID)
	if err != nil {
		return nil, false, err
	}
	snap, err := o.rbac.Snapshot(ctx)
	if err != nil {
		return nil, false, err
	}
	_, perms := snap.Resolve(u.Roles, u.Groups)
	return perms, u.Status.CanUseTokens(), nil
}

// introspectKey answers RFC 7662 introspection of an API key.
func (s *system) introspectKey(ctx context.Context, raw string) (map[string]any, bool) {
	if _, _, err := apikey.Parse(raw); err != nil {
		return nil, false
	}
	res, err := s.apiKeys.Verify(ctx, raw, nil)
	if err != nil || !res.Valid {
		return map[string]any{"active": false}, true
	}
	out := map[string]any{"active": true, "token_type": "api_key", "sub": res.Key.OwnerID, "key_id": res.Key.ID,
		"scope": strings.Join(res.Permissions, " "), "iss": s.cfg.Issuer}
	if res.Key.ExpiresAt != nil {
		out["exp"] = res.Key.ExpiresAt.Unix()
	}
	return out, true
}

// mfaIssuer names the service in authenticator apps: the issuer's host.
func mfaIssuer(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Hostname() != "" {
		return "Gatehouse (" + u.Hostname() + ")"
	}
	return "Gatehouse"
}

// close releases the store and the Redis client.
func (s *system) close() {
	_ = s.store.Close()
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// ready reports whether the database (and Redis, when used) answer.
func (s *system) ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	if s.redis != nil {
		return s.redis.Ping(ctx).Err()
	}
	return nil
}

// auditChainKeyName names the audit chain key among the sealed secrets.
const auditChainKeyName = "audit_chain_key"

// auditChainKey returns the key of the audit chain's HMAC, creating it
// (256 random bits, sealed under the master key) on first start.
func auditChainKey(ctx context.Context, st *store.Store, kr *secret.Keyring) ([]byte, error) {
	sealed, err := st.SealedSecret(ctx, auditChainKeyName)
	if apperr.Is(err, apperr.KindNotFound) {
		fresh, serr := kr.Seal(secret.RandomBytes(32), auditChainKeyName)
		if serr != nil {
			return nil, serr
		}
		sealed, err = st.PutSealedSecretIfAbsent(ctx, auditChainKeyName, fresh, time.Now().UTC())
	}
	if err != nil {
		return nil, fmt.Errorf("audit chain key: %w (run gatehouse migrate first?)", err)
	}
	key, err := kr.Open(sealed, auditChainKeyName)
	if err != nil {
		return nil, fmt.Errorf("decrypt the audit chain key: %w; %s", err, masterKeyAdvice)
	}
	return key, nil
}

// masterKeyAdvice says what to do when a sealed value does not open.
const masterKeyAdvice = "set GATEHOUSE_MASTER_KEY to the master key it was sealed under " +
	"(after `gatehouse master-key rotate`: the new key), or, to move to a new key, keep the new one in GATEHOUSE_MASTER_KEY, " +
	"put the old one in GATEHOUSE_MASTER_KEY_PREVIOUS and run `gatehouse master-key rotate`"

// loadConfig reads and validates the configuration, printing warnings.
func loadConfig(args []string, getenv func(string) string, environ []string, stderr io.Writer) (config.Config, error) {
	cfg, warns, err := config.Load(args, getenv, environ)
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err != nil {
		return cfg, usageError{"configuration: " + err.Error()}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("configuration is invalid:\n%w", err)
	}
	return cfg, nil
}

// masterKey returns the keyring of the configured master key, or of a
// development key generated into the data dir (SQLite only), with a warning.
// It seals with that key and also opens values sealed under the keys of
// GATEHOUSE_MASTER_KEY_PREVIOUS, so that instances keep working while a
// master-key rotation is rolled out.
func masterKey(cfg config.Config, stderr io.Writer) (*secret.Keyring, error) {
	previous, err := secret.ParseMasterKeys(cfg.MasterKeyPrevious.Reveal())
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_MASTER_KEY_PREVIOUS: %w", err)
	}
	if !cfg.MasterKey.IsZero() {
		k, err := secret.ParseMasterKey(cfg.MasterKey.Reveal())
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_MASTER_KEY: %w", err)
		}
		return secret.NewKeyring(k, previous...)
	}
	if !cfg.SQLite() {
		return nil, errors.New("GATEHOUSE_MASTER_KEY (or GATEHOUSE_MASTER_KEY_FILE) is required with PostgreSQL, so that every instance shares it; generate one with: openssl rand -base64 32")
	}
	k, created, err := secret.LoadOrCreateDevMasterKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stderr, "WARNING: no GATEHOUSE_MASTER_KEY set; generated a development master key in %s/%s (mode 0600).\n"+
			"WARNING: for production, set GATEHOUSE_MASTER_KEY_FILE to a key kept outside the data dir.\n", cfg.DataDir, secret.DevMasterKeyFile)
	}
	return secret.NewKeyring(k, previous...)
}

// requireDatabase fails, creating nothing, when cfg names an SQLite database
// that does not exist: commands that only read or check it (doctor, audit)
// must not make a fresh one and report on that. PostgreSQL is not checked
// here: opening it fails when it is missing.
func requireDatabase(cfg config.Config) error {
	if !cfg.SQLite() {
		return nil
	}
	path := filepath.Join(cfg.DataDir, store.SQLiteFile)
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no Gatehouse database at %s: start `gatehouse serve` or run `gatehouse migrate` first, "+
			"or set GATEHOUSE_DATA_DIR to the data dir that holds it", path)
	case err != nil:
		return fmt.Errorf("database %s: %w", path, err)
	}
	return nil
}

// open builds the system: store (migrated when migrate is set), services and
// signing keys. Close the store when done.
func open(ctx context.Context, cfg config.Config, stderr io.Writer, migrate bool) (*system, error) {
	kr, err := masterKey(cfg, stderr)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL.Reveal(), DataDir: cfg.DataDir})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("migrate database: %w", err)
		}
	}
	s := &system{cfg: cfg, keyring: kr, store: st}
	if s.auditKey, err = auditChainKey(ctx, st, kr); err != nil {
		_ = st.Close()
		return nil, err
	}
	s.audit = audit.NewRecorder(st, s.auditKey)
	s.auditBatch = audit.NewBatcher(s.audit, 4096)
	if s.limiter, s.redis, err = newLimiter(ctx, cfg); err != nil {
		_ = st.Close()
		return nil, err
	}
	s.rbac = rbac.NewService(st, s.audit)
	s.hasher = user.NewHasher(user.HashParams{MemoryKiB: uint32(cfg.Hash.MemoryKiB), Iterations: uint32(cfg.Hash.Iterations), // #nosec G115 -- validated ranges
		Parallelism: uint8(cfg.Hash.Parallelism)}, cfg.Hash.Workers, cfg.Hash.Queue) // #nosec G115 -- validated 1..255
	s.hasher.AdmitWait = cfg.Hash.QueueWait
	s.revocations = oauth.NewRevocations(st, s.audit, cfg.AccessTokenTTL)
	s.users = user.NewService(st, s.rbac, s.audit, s.hasher,
		user.Policy{MinLength: cfg.Password.MinLength, MaxLength: cfg.Password.MaxLength, History: cfg.Password.History},
		user.LockoutPolicy{Threshold: cfg.Lockout.Threshold, Window: cfg.Lockout.Window, Duration: cfg.Lockout.Duration,
			MaxDuration: 24 * time.Hour, KnownIPWindow: 30 * 24 * time.Hour}, s.revocations)
	s.keys = oauth.NewKeyManager(st, kr, s.audit, cfg.SigningAlg, cfg.SigningKeyRotation, max(cfg.AccessTokenTTL, cfg.IDTokenTTL))
	s.apiKeys = apikey.NewService(apikey.Options{}, st, keyOwners{users: s.users, rbac: s.rbac}, s.limiter, s.audit)
	s.mfa = mfa.NewService(mfa.Options{Issuer: mfaIssuer(cfg.Issuer), Skew: 1}, st, kr, s.audit, s.users)
	s.oauth = oauth.NewService(oauth.Options{
		Issuer: cfg.Issuer, Audiences: cfg.TokenAudience, AccessTTL: cfg.AccessTokenTTL, IDTokenTTL: cfg.IDTokenTTL,
		RefreshTTL: cfg.RefreshTokenTTL, RefreshIdleTTL: cfg.RefreshTokenIdleTTL, ReuseGrace: cfg.RefreshReuseGrace,
		RoleClaims: cfg.TokenRoleClaims, PasswordGrant: cfg.PasswordGrant, MFARequiredRoles: cfg.MFARequiredRoles,
		LoginPerIP: cfg.RateLimit.LoginPerIP, LoginPerUser: cfg.RateLimit.LoginPerUser,
	}, oauth.Deps{Store: st, Users: s.users, UserStore: st, RBAC: s.rbac, Audit: s.audit, Keys: s.keys, Revocations: s.revocations,
		Limiter: s.limiter, MFA: s.mfa, AuditBatch: s.auditBatch})
	s.oauth.IntrospectKey = s.introspectKey
	return s, nil
}

// bootstrap prepares a fresh or existing database for serving: default
// roles, the built-in client, signing keys, the deny list, the first admin.
func (s *system) bootstrap(ctx context.Context, stderr io.Writer) error {
	if err := s.rbac.EnsureDefaults(ctx); err != nil {
		return fmt.Errorf("default roles: %w", err)
	}
	if err := s.oauth.EnsureBuiltInClient(ctx); err != nil {
		return fmt.Errorf("built-in client: %w", err)
	}
	if _, err := s.keys.Ensure(ctx, false); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if err := s.revocations.Sync(ctx); err != nil {
		return fmt.Errorf("revocations: %w", err)
	}
	b, err := s.users.EnsureBootstrapAdmin(ctx, s.cfg.BootstrapAdminUsername, s.cfg.BootstrapAdminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if b.Created && !b.Generated.IsZero() {
		// Printed once, to stderr only, never logged.
		fmt.Fprintf(stderr, "\n  Created the first admin %q with the one-time password:\n\n      %s\n\n"+
			"  It must be changed at first sign-in. It is not stored anywhere and will not be shown again.\n\n",
			b.Username, b.Generated.Reveal())
	} else if b.Created {
		slog.Info("created the first admin from GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD", "username", b.Username)
	}
	return nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// exitCode maps an error to the exit codes of SPEC §14, printing it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "gatehouse:", err)
		fmt.Fprintln(stderr, "run 'gatehouse help' for usage")
		return ExitUsage
	}
	fmt.Fprintln(stderr, "gatehouse:", err)
	return ExitFailure
}
