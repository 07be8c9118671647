package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// Validation bounds.
const (
	maxAccessTokenTTL    = 24 * time.Hour
	maxRefreshReuseGrace = 5 * time.Minute
	minHashMemoryKiB     = 8192
	maxHashMemoryKiB     = 4 << 20 // 4 GiB per hash; argon2id takes a uint32
	minPasswordLength    = 8
	maxPasswordLength    = 1024
)

var (
	signingAlgs = []string{"ES256", "EdDSA", "PS256", "RS256"}
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"text", "json"}
)

// Validate checks c and returns every problem at once (errors.Join), each
// naming the variable and saying what to do, or nil. No message contains a
// secret's value.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	errs = append(errs, checkIssuer(c.Issuer)...)
	if err := checkHostPort("LISTEN", c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.MetricsListen != "" {
		if err := checkHostPort("METRICS_LISTEN", c.MetricsListen); err != nil {
			errs = append(errs, err)
		} else if c.MetricsListen == c.Listen {
			add("%sMETRICS_LISTEN equals %sLISTEN; give metrics another port, or unset it to serve /metrics on the main port with a token", EnvPrefix, EnvPrefix)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("%sDATA_DIR is empty; set it to a directory Gatehouse may write, such as ./data", EnvPrefix)
	}
	if err := checkURL("DATABASE_URL", c.DatabaseURL, []string{"postgres", "postgresql"},
		"postgres://user:password@host:5432/gatehouse, or unset it to use SQLite"); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("REDIS_URL", c.RedisURL, []string{"redis", "rediss"},
		"rediss://host:6379/0, or unset it to keep counters in process"); err != nil {
		errs = append(errs, err)
	}
	if !c.MasterKey.IsZero() {
		if _, err := secret.ParseMasterKey(c.MasterKey.Reveal()); err != nil {
			add("%sMASTER_KEY: %w", EnvPrefix, err) // the message never quotes the key
		}
	} else if !c.SQLite() {
		add("%sMASTER_KEY is required with %sDATABASE_URL, as every instance must share it; generate one with: openssl rand -base64 32", EnvPrefix, EnvPrefix)
	}
	if !c.MasterKeyPrevious.IsZero() {
		keys, err := secret.ParseMasterKeys(c.MasterKeyPrevious.Reveal())
		switch {
		case err != nil:
			add("%sMASTER_KEY_PREVIOUS: %w", EnvPrefix, err) // the message never quotes a key
		case len(keys) == 0:
			add("%sMASTER_KEY_PREVIOUS holds no key; give the old master keys separated by commas, or unset it", EnvPrefix)
		}
	}

	errs = append(errs, c.checkDurations()...)
	if !slices.Contains(signingAlgs, c.SigningAlg) {
		add("%sSIGNING_ALG=%q is not supported; use one of %s", EnvPrefix, c.SigningAlg, strings.Join(signingAlgs, ", "))
	}
	if len(c.TokenAudience) == 0 || slices.Contains(c.TokenAudience, "") {
		add("%sTOKEN_AUDIENCE is empty; unset it to use the issuer, or list audiences separated by commas", EnvPrefix)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		add("%sTLS_CERT_FILE and %sTLS_KEY_FILE go together; set both to serve HTTPS, or neither", EnvPrefix, EnvPrefix)
	}
	if strings.TrimSpace(c.BootstrapAdminUsername) == "" {
		add("%sBOOTSTRAP_ADMIN_USERNAME is empty; unset it to use admin, or give a username", EnvPrefix)
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		add("%sLOG_LEVEL=%q is not a level; use one of %s", EnvPrefix, c.LogLevel, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.LogFormat) {
		add("%sLOG_FORMAT=%q is not a format; use text or json", EnvPrefix, c.LogFormat)
	}
	errs = append(errs, c.checkNumbers()...)
	return errors.Join(errs...)
}

// checkIssuer requires an absolute http(s) URL without user information,
// query, fragment or trailing slash, and plain http only on loopback.
func checkIssuer(issuer string) []error {
	const name = EnvPrefix + "ISSUER"
	if issuer == "" {
		return []error{fmt.Errorf("%s is empty and cannot be derived from %sLISTEN; set it to the public URL, such as https://auth.example.com", name, EnvPrefix)}
	}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return []error{fmt.Errorf("%s=%q is not an absolute http(s) URL; set it to the public URL, such as https://auth.example.com", name, issuer)}
	}
	var errs []error
	if u.User != nil {
		errs = append(errs, fmt.Errorf("%s=%q contains user information; remove the part before @", name, issuer))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") {
		errs = append(errs, fmt.Errorf("%s=%q has a query or fragment; remove everything from ? or #", name, issuer))
	}
	if strings.HasSuffix(u.Path, "/") {
		errs = append(errs, fmt.Errorf("%s=%q ends with a slash; remove it, as token issuers must match exactly", name, issuer))
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		errs = append(errs, fmt.Errorf("%s=%q uses plain http on a host other than loopback; use https (serve TLS with %sTLS_CERT_FILE and %sTLS_KEY_FILE, or behind a TLS proxy)", name, issuer, EnvPrefix, EnvPrefix))
	}
	return errs
}

// checkHostPort requires host:port with a numeric port (0 picks a free one).
func checkHostPort(name, v string) error {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%s%s=%q is not host:port; use e.g. 127.0.0.1:8080, or :8080 for every interface", EnvPrefix, name, v)
	}
	return nil
}

// checkURL requires a set secret URL to use one of schemes. The message
// names neither the URL nor any part of it: it may hold a password.
func checkURL(name string, v secret.Value, schemes []string, example string) error {
	if v.IsZero() {
		return nil
	}
	u, err := url.Parse(v.Reveal())
	if err == nil && slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return nil
	}
	return fmt.Errorf("%s%s must be a %s:// URL; use e.g. %s", EnvPrefix, name, strings.Join(schemes, ":// or "), example)
}

// checkDurations requires every duration to be positive (but the three
// where 0 means none, checked in checkNumbers), with the few bounds between
// them.
func (c Config) checkDurations() []error {
	var errs []error
	for _, f := range fields {
		d, ok := f.bind(&c).(*durationValue)
		if !ok || f.name == "REFRESH_REUSE_GRACE" || f.name == "RATE_LIMIT_REFUSAL_DELAY" || f.name == "HASH_QUEUE_WAIT" {
			continue
		}
		if *d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%s must be positive; use a duration such as %s", f.env(), d, f.def))
		}
	}
	if c.RefreshTokenIdleTTL > c.RefreshTokenTTL {
		errs = append(errs, fmt.Errorf("%sREFRESH_TOKEN_IDLE_TTL=%s exceeds %sREFRESH_TOKEN_TTL=%s; lower the idle limit or raise the absolute one",
			EnvPrefix, formatDuration(c.RefreshTokenIdleTTL), EnvPrefix, formatDuration(c.RefreshTokenTTL)))
	}
	if c.AccessTokenTTL > maxAccessTokenTTL {
		errs = append(errs, fmt.Errorf("%sACCESS_TOKEN_TTL=%s is over 24h; keep access tokens short (default 15m) and let clients refresh",
			EnvPrefix, formatDuration(c.AccessTokenTTL)))
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > maxRefreshReuseGrace {
		errs = append(errs, fmt.Errorf("%sREFRESH_REUSE_GRACE=%s must be between 0 and 5m; the default 10s covers retries and parallel tabs",
			EnvPrefix, formatDuration(c.RefreshReuseGrace)))
	}
	return errs
}

// checkNumbers checks the hashing, lockout, password, rate and size limits.
func (c Config) checkNumbers() []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	h := c.Hash
	if h.MemoryKiB < minHashMemoryKiB || h.MemoryKiB > maxHashMemoryKiB {
		add("%sHASH_MEMORY_KIB=%d must be between %d and %d; the default 19456 (19 MiB) follows OWASP", EnvPrefix, h.MemoryKiB, minHashMemoryKiB, maxHashMemoryKiB)
	}
	if h.Iterations < 1 {
		add("%sHASH_ITERATIONS=%d must be at least 1; the default is 2", EnvPrefix, h.Iterations)
	}
	if h.Parallelism < 1 || h.Parallelism > 255 {
		add("%sHASH_PARALLELISM=%d must be between 1 and 255; the default is 1", EnvPrefix, h.Parallelism)
	}
	if h.Workers < 1 {
		add("%sHASH_WORKERS=%d must be at least 1; use 0 for one per CPU", EnvPrefix, h.Workers)
	}
	if h.Queue < 0 {
		add("%sHASH_QUEUE=%d must not be negative; use 0 for 4 × workers", EnvPrefix, h.Queue)
	}
	if h.QueueWait < 0 || h.QueueWait > 10*time.Second {
		add("%sHASH_QUEUE_WAIT=%s must be between 0 and 10s; the default is 250ms, 0 refuses at once", EnvPrefix, formatDuration(h.QueueWait))
	}
	if c.Lockout.Threshold < 1 {
		add("%sLOCKOUT_THRESHOLD=%d must be at least 1; the default is 5", EnvPrefix, c.Lockout.Threshold)
	}
	p := c.Password
	if p.MinLength < minPasswordLength {
		add("%sPASSWORD_MIN_LENGTH=%d must be at least %d; the default is 12", EnvPrefix, p.MinLength, minPasswordLength)
	}
	if p.MaxLength > maxPasswordLength {
		add("%sPASSWORD_MAX_LENGTH=%d must be at most %d; the default is 256", EnvPrefix, p.MaxLength, maxPasswordLength)
	}
	if p.MinLength > p.MaxLength {
		add("%sPASSWORD_MIN_LENGTH=%d exceeds %sPASSWORD_MAX_LENGTH=%d; lower the minimum or raise the maximum", EnvPrefix, p.MinLength, EnvPrefix, p.MaxLength)
	}
	if p.History < 0 {
		add("%sPASSWORD_HISTORY=%d must not be negative; use 0 to turn it off", EnvPrefix, p.History)
	}
	for _, f := range fields {
		if r, ok := f.bind(&c).(*rateValue); ok && (r.N < 0 || (r.N > 0 && r.Per <= 0)) {
			add("%s must be N/duration with N ≥ 0 and a positive duration, such as %s, or 0 to turn it off", f.env(), f.def)
		}
	}
	if d := c.RateLimit.RefusalDelay; d < 0 || d > time.Minute {
		add("%sRATE_LIMIT_REFUSAL_DELAY=%s must be between 0 and 1m; the default is 1s, 0 answers refusals at once", EnvPrefix, formatDuration(d))
	}
	if c.BodyLimitBytes < 1 {
		add("%sBODY_LIMIT_BYTES=%d must be positive; the default is 65536", EnvPrefix, c.BodyLimitBytes)
	}
	return errs
}
