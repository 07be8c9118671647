package config

import (
	"flag"
	"strings"
)

// field describes one setting. The table below is the single source of every
// setting's environment variable, flag, default, kind (the value type bind
// returns) and secrecy (a *secretValue, which also accepts _FILE).
type field struct {
	name string // env suffix after GATEHOUSE_, e.g. ACCESS_TOKEN_TTL
	def  string // default, in the same syntax as the variable
	help string
	bind func(*Config) value
}

// value is a flag.Value bound to one field of a Config.
type value interface {
	flag.Value
	// kind names the syntax, for Usage and error messages.
	kind() string
}

// env returns the field's environment variable, e.g. GATEHOUSE_ACCESS_TOKEN_TTL.
func (f field) env() string { return EnvPrefix + f.name }

// fileEnv returns the _FILE variant of a secret's variable.
func (f field) fileEnv() string { return f.env() + "_FILE" }

// flagName returns the field's flag, e.g. access-token-ttl.
func (f field) flagName() string {
	return strings.ToLower(strings.ReplaceAll(f.name, "_", "-"))
}

// secret reports whether the field holds a secret.
func (f field) secret() bool {
	_, ok := f.bind(&Config{}).(*secretValue)
	return ok
}

// fields lists every setting. Order is for reading; Print and Usage sort.
var fields = []field{
	{"ISSUER", "", "public base URL, the token issuer (default: derived from LISTEN)",
		func(c *Config) value { return (*stringValue)(&c.Issuer) }},
	{"LISTEN", "127.0.0.1:8080", "host:port of the HTTP server",
		func(c *Config) value { return (*stringValue)(&c.Listen) }},
	{"METRICS_LISTEN", "", "host:port serving /metrics separately (empty: /metrics needs a token)",
		func(c *Config) value { return (*stringValue)(&c.MetricsListen) }},
	{"DATA_DIR", "./data", "directory for the SQLite database and the development master key",
		func(c *Config) value { return (*stringValue)(&c.DataDir) }},
	{"DATABASE_URL", "", "postgres:// URL (empty: SQLite in DATA_DIR)",
		func(c *Config) value { return (*secretValue)(&c.DatabaseURL) }},
	{"REDIS_URL", "", "redis:// or rediss:// URL shared by a cluster (empty: in-process)",
		func(c *Config) value { return (*secretValue)(&c.RedisURL) }},
	{"REDIS_PREFIX", "gatehouse:", "prefix of every Redis key, so several deployments can share one Redis",
		func(c *Config) value { return (*stringValue)(&c.RedisPrefix) }},
	{"MASTER_KEY", "", "base64 of 32 random bytes encrypting secrets at rest (empty: development key in DATA_DIR)",
		func(c *Config) value { return (*secretValue)(&c.MasterKey) }},
	{"MASTER_KEY_PREVIOUS", "", "comma-separated base64 master keys that still open secrets sealed under them, while gatehouse master-key rotate moves them to MASTER_KEY",
		func(c *Config) value { return (*secretValue)(&c.MasterKeyPrevious) }},

	{"ACCESS_TOKEN_TTL", "15m", "access token lifetime",
		func(c *Config) value { return (*durationValue)(&c.AccessTokenTTL) }},
	{"ID_TOKEN_TTL", "15m", "ID token lifetime",
		func(c *Config) value { return (*durationValue)(&c.IDTokenTTL) }},
	{"REFRESH_TOKEN_TTL", "720h", "absolute refresh token (session) lifetime",
		func(c *Config) value { return (*durationValue)(&c.RefreshTokenTTL) }},
	{"REFRESH_TOKEN_IDLE_TTL", "168h", "a session unused this long expires",
		func(c *Config) value { return (*durationValue)(&c.RefreshTokenIdleTTL) }},
	{"REFRESH_REUSE_GRACE", "10s", "a rotated refresh token replays its successor this long (0: never)",
		func(c *Config) value { return (*durationValue)(&c.RefreshReuseGrace) }},
	{"SIGNING_ALG", "ES256", "token signing algorithm: ES256, EdDSA, PS256 or RS256",
		func(c *Config) value { return (*stringValue)(&c.SigningAlg) }},
	{"SIGNING_KEY_ROTATION", "720h", "signing key rotation period",
		func(c *Config) value { return (*durationValue)(&c.SigningKeyRotation) }},
	{"TOKEN_AUDIENCE", "", "comma-separated default access token audience (default: the issuer)",
		func(c *Config) value { return (*listValue)(&c.TokenAudience) }},
	{"TOKEN_ROLE_CLAIMS", "true", "put roles and groups claims into access tokens",
		func(c *Config) value { return (*boolValue)(&c.TokenRoleClaims) }},
	{"PASSWORD_GRANT", "true", "allow the OAuth password grant",
		func(c *Config) value { return (*boolValue)(&c.PasswordGrant) }},
	{"MFA_REQUIRED_ROLES", "admin", `comma-separated roles that must use MFA ("none": no role)`,
		func(c *Config) value { return (*rolesValue)(&c.MFARequiredRoles) }},

	{"TLS_CERT_FILE", "", "PEM certificate chain for HTTPS (with TLS_KEY_FILE)",
		func(c *Config) value { return (*stringValue)(&c.TLSCertFile) }},
	{"TLS_KEY_FILE", "", "PEM private key for HTTPS (with TLS_CERT_FILE)",
		func(c *Config) value { return (*stringValue)(&c.TLSKeyFile) }},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs or IPs whose X-Forwarded-For is believed",
		func(c *Config) value { return (*prefixesValue)(&c.TrustedProxies) }},

	{"BOOTSTRAP_ADMIN_USERNAME", "admin", "username of the admin created on first start",
		func(c *Config) value { return (*stringValue)(&c.BootstrapAdminUsername) }},
	{"BOOTSTRAP_ADMIN_PASSWORD", "", "password of that admin (empty: generated and printed once)",
		func(c *Config) value { return (*secretValue)(&c.BootstrapAdminPassword) }},
	{"LOG_LEVEL", "info", "debug, info, warn or error",
		func(c *Config) value { return (*stringValue)(&c.LogLevel) }},
	{"LOG_FORMAT", "text", "text or json",
		func(c *Config) value { return (*stringValue)(&c.LogFormat) }},

	{"HASH_MEMORY_KIB", "19456", "argon2id memory per hash, KiB",
		func(c *Config) value { return (*intValue)(&c.Hash.MemoryKiB) }},
	{"HASH_ITERATIONS", "2", "argon2id iterations",
		func(c *Config) value { return (*intValue)(&c.Hash.Iterations) }},
	{"HASH_PARALLELISM", "1", "argon2id parallelism",
		func(c *Config) value { return (*intValue)(&c.Hash.Parallelism) }},
	{"HASH_WORKERS", "0", "concurrent password hashes (0: one per CPU)",
		func(c *Config) value { return (*intValue)(&c.Hash.Workers) }},
	{"HASH_QUEUE", "0", "password hashes that may wait (0: 4 × workers)",
		func(c *Config) value { return (*intValue)(&c.Hash.Queue) }},
	{"HASH_QUEUE_WAIT", "250ms", "how long a sign-in that finds the queue full waits for a place before its 503 (0: refuse at once)",
		func(c *Config) value { return (*durationValue)(&c.Hash.QueueWait) }},

	{"LOCKOUT_THRESHOLD", "5", "failed sign-ins that lock an account",
		func(c *Config) value { return (*intValue)(&c.Lockout.Threshold) }},
	{"LOCKOUT_WINDOW", "15m", "window in which failures are counted",
		func(c *Config) value { return (*durationValue)(&c.Lockout.Window) }},
	{"LOCKOUT_DURATION", "15m", "first lock duration, doubling on repeats up to 24h",
		func(c *Config) value { return (*durationValue)(&c.Lockout.Duration) }},
	{"PASSWORD_MIN_LENGTH", "12", "minimum password length",
		func(c *Config) value { return (*intValue)(&c.Password.MinLength) }},
	{"PASSWORD_MAX_LENGTH", "256", "maximum password length",
		func(c *Config) value { return (*intValue)(&c.Password.MaxLength) }},
	{"PASSWORD_HISTORY", "0", "previous passwords that may not be reused (0: off)",
		func(c *Config) value { return (*intValue)(&c.Password.History) }},

	{"RATE_LIMIT_LOGIN_PER_IP", "30/1m", "sign-in attempts per client IP (N/duration, 0: off)",
		func(c *Config) value { return (*rateValue)(&c.RateLimit.LoginPerIP) }},
	{"RATE_LIMIT_LOGIN_PER_USER", "10/1m", "sign-in attempts per username (N/duration, 0: off)",
		func(c *Config) value { return (*rateValue)(&c.RateLimit.LoginPerUser) }},
	{"RATE_LIMIT_VERIFY_FAILURES_PER_IP", "60/1m", "failed API key verifications per client IP (N/duration, 0: off)",
		func(c *Config) value { return (*rateValue)(&c.RateLimit.VerifyFailuresPerIP) }},
	{"RATE_LIMIT_API_PER_IP", "600/1m", "API requests per client IP (N/duration, 0: off)",
		func(c *Config) value { return (*rateValue)(&c.RateLimit.APIPerIP) }},
	{"RATE_LIMIT_REFUSAL_DELAY", "1s", "how long a credential endpoint holds its 429 before sending it, at most until Retry-After (0: at once)",
		func(c *Config) value { return (*durationValue)(&c.RateLimit.RefusalDelay) }},
	{"BODY_LIMIT_BYTES", "65536", "maximum request body size, bytes",
		func(c *Config) value { return (*int64Value)(&c.BodyLimitBytes) }},
	{"SHUTDOWN_TIMEOUT", "15s", "graceful shutdown limit",
		func(c *Config) value { return (*durationValue)(&c.ShutdownTimeout) }},
}
