// Package config holds Gatehouse's settings: the typed Config, its defaults,
// Load from GATEHOUSE_* environment variables and command-line flags (with
// GATEHOUSE_<NAME>_FILE for every secret), Validate reporting every problem at
// once, and Print showing the effective configuration with secrets redacted.
//
// Every setting is described once, in the field table of fields.go; that table
// drives the environment, the flags, the _FILE variants, the detection of
// unknown variables, Print and Usage. Feature packages never import config:
// the app translates the relevant part (cfg.Lockout, cfg.Hash, …) into each
// package's own options.
package config

import (
	"net/netip"
	"runtime"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// EnvPrefix starts the name of every Gatehouse environment variable.
const EnvPrefix = "GATEHOUSE_"

// Config is every setting of Gatehouse, typed. The GATEHOUSE_* variable and
// the flag of each field are listed in fields.go and shown by Usage.
type Config struct {
	// Issuer is the public base URL (GATEHOUSE_ISSUER), the "iss" of every
	// token. When unset it is derived from Listen (and https when TLSCertFile
	// is set); a wildcard listen host becomes 127.0.0.1.
	Issuer string
	// Listen is the host:port of the main HTTP server.
	Listen string
	// MetricsListen, when not empty, serves /metrics on its own host:port.
	MetricsListen string
	// DataDir holds the SQLite database and the development master key.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://…); empty means SQLite.
	DatabaseURL secret.Value
	// RedisURL (redis:// or rediss://) shares counters and revocations
	// between the instances of a cluster; empty means in-process.
	RedisURL secret.Value
	// RedisPrefix starts every Redis key.
	RedisPrefix string
	// MasterKey is the base64 of the 32-byte key that encrypts secrets at
	// rest; empty means a development key generated in DataDir.
	MasterKey secret.Value
	// MasterKeyPrevious is a comma-separated list of base64 master keys
	// (one a line in its _FILE) that open, but never seal, secrets sealed
	// under them: set during a master-key rotation, empty otherwise.
	MasterKeyPrevious secret.Value

	AccessTokenTTL      time.Duration // lifetime of an access token
	IDTokenTTL          time.Duration // lifetime of an ID token
	RefreshTokenTTL     time.Duration // absolute lifetime of a refresh-token family
	RefreshTokenIdleTTL time.Duration // a family unused this long expires
	RefreshReuseGrace   time.Duration // a rotated refresh token replays its successor this long (0: never)
	SigningAlg          string        // ES256, EdDSA, PS256 or RS256
	SigningKeyRotation  time.Duration // age at which the signing key is replaced
	// TokenAudience is the default "aud" of access tokens; default [Issuer].
	TokenAudience []string
	// TokenRoleClaims puts "roles" and "groups" into access tokens.
	TokenRoleClaims bool
	// PasswordGrant enables the resource-owner password grant (SPEC §15).
	PasswordGrant bool
	// MFARequiredRoles must use MFA; empty (set as "none") requires it of no one.
	MFARequiredRoles []string

	// TLSCertFile and TLSKeyFile, both set, make Gatehouse serve HTTPS.
	TLSCertFile string
	TLSKeyFile  string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// BootstrapAdminUsername names the admin created on first start.
	BootstrapAdminUsername string
	// BootstrapAdminPassword, when set, is that admin's password; otherwise a
	// one-time password is generated and printed once.
	BootstrapAdminPassword secret.Value

	LogLevel  string // debug, info, warn or error
	LogFormat string // text or json

	Hash      Hash           // GATEHOUSE_HASH_*
	Lockout   Lockout        // GATEHOUSE_LOCKOUT_*
	Password  PasswordPolicy // GATEHOUSE_PASSWORD_MIN_LENGTH, _MAX_LENGTH, _HISTORY
	RateLimit RateLimits     // GATEHOUSE_RATE_LIMIT_*

	// BodyLimitBytes caps the size of a request body.
	BodyLimitBytes int64
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
}

// Hash configures argon2id and the bounded pool that runs it (SPEC §4).
type Hash struct {
	MemoryKiB   int // argon2id m, in KiB
	Iterations  int // argon2id t
	Parallelism int // argon2id p
	// Workers is the number of concurrent hashes; 0 given means one per CPU,
	// and Load and Default resolve it, so it is at least 1 once loaded.
	Workers int
	// Queue is how many hash requests may wait; 0 given means 4 × Workers,
	// resolved by Load and Default. A full queue answers 503.
	Queue int
	// QueueWait is how long a sign-in that finds the pool and queue full
	// waits for a place before its 503; 0 refuses at once.
	QueueWait time.Duration
}

// Lockout configures temporary account locking after failed sign-ins (SPEC §4).
type Lockout struct {
	Threshold int           // failures that lock the account
	Window    time.Duration // within this window
	Duration  time.Duration // first lock; doubles on each repeat up to 24h
}

// PasswordPolicy configures the password rules (SPEC §4).
type PasswordPolicy struct {
	MinLength int // in characters
	MaxLength int // in characters
	History   int // previous passwords that may not be reused; 0 turns it off
}

// RateLimits holds the token-bucket limits of the credential endpoints
// (SPEC Appendix A). A zero Rate turns a limit off.
type RateLimits struct {
	LoginPerIP          Rate // token-endpoint sign-in attempts per client IP
	LoginPerUser        Rate // sign-in attempts per username
	VerifyFailuresPerIP Rate // failed POST /api/v1/keys/verify per client IP
	APIPerIP            Rate // API requests per client IP
	// RefusalDelay holds a credential endpoint's 429 this long (or until
	// its Retry-After when sooner); 0 answers at once.
	RefusalDelay time.Duration
}

// Default returns the configuration used when nothing is set: the default of
// every field, with the derived ones (Issuer, TokenAudience, Hash.Workers,
// Hash.Queue) resolved.
func Default() Config {
	c := defaults()
	c.derive(map[string]bool{})
	return c
}

// defaults returns the table's defaults, before derivation. A default that
// does not parse is a bug in the table, which TestDefault catches.
func defaults() Config {
	var c Config
	for _, f := range fields {
		if err := f.bind(&c).Set(f.def); err != nil {
			panic("config: bad default for " + f.env() + ": " + err.Error())
		}
	}
	return c
}

// SQLite reports whether Gatehouse keeps its data in SQLite, which it does
// when no DatabaseURL is set.
func (c Config) SQLite() bool { return c.DatabaseURL.IsZero() }

// derive fills in the settings whose default depends on others. set holds
// the names (env suffixes) that were given explicitly.
func (c *Config) derive(set map[string]bool) {
	if !set["ISSUER"] {
		c.Issuer = issuerFromListen(c.Listen, c.TLSCertFile != "")
	}
	if !set["TOKEN_AUDIENCE"] && c.Issuer != "" {
		c.TokenAudience = []string{c.Issuer}
	}
	if c.Hash.Workers == 0 {
		c.Hash.Workers = runtime.NumCPU()
	}
	if c.Hash.Queue == 0 && c.Hash.Workers > 0 {
		c.Hash.Queue = 4 * c.Hash.Workers
	}
}
