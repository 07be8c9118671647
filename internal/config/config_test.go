package config_test

import (
	"bytes"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// load calls config.Load with env as the whole environment.
func load(t *testing.T, args []string, env map[string]string) (config.Config, config.Warnings, error) {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return config.Load(args, func(k string) string { return env[k] }, environ)
}

func TestDefault(t *testing.T) {
	cpus := runtime.NumCPU()
	want := config.Config{
		Issuer:                 "http://127.0.0.1:8080",
		Listen:                 "127.0.0.1:8080",
		DataDir:                "./data",
		RedisPrefix:            "gatehouse:",
		AccessTokenTTL:         15 * time.Minute,
		IDTokenTTL:             15 * time.Minute,
		RefreshTokenTTL:        30 * 24 * time.Hour,
		RefreshTokenIdleTTL:    7 * 24 * time.Hour,
		RefreshReuseGrace:      10 * time.Second,
		SigningAlg:             "ES256",
		SigningKeyRotation:     30 * 24 * time.Hour,
		TokenAudience:          []string{"http://127.0.0.1:8080"},
		TokenRoleClaims:        true,
		PasswordGrant:          true,
		MFARequiredRoles:       []string{"admin"},
		BootstrapAdminUsername: "admin",
		LogLevel:               "info",
		LogFormat:              "text",
		Hash:                   config.Hash{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, Workers: cpus, Queue: 4 * cpus, QueueWait: 250 * time.Millisecond},
		Lockout:                config.Lockout{Threshold: 5, Window: 15 * time.Minute, Duration: 15 * time.Minute},
		Password:               config.PasswordPolicy{MinLength: 12, MaxLength: 256},
		RateLimit: config.RateLimits{
			LoginPerIP:          config.Rate{N: 30, Per: time.Minute},
			LoginPerUser:        config.Rate{N: 10, Per: time.Minute},
			VerifyFailuresPerIP: config.Rate{N: 60, Per: time.Minute},
			APIPerIP:            config.Rate{N: 600, Per: time.Minute},
			RefusalDelay:        time.Second,
		},
		BodyLimitBytes:  65536,
		ShutdownTimeout: 15 * time.Second,
	}
	got := config.Default()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	if !got.SQLite() {
		t.Error("Default().SQLite() = false, want true")
	}

	loaded, warnings, err := load(t, nil, nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Load with nothing set: warnings %q, error %v", warnings, err)
	}
	if !reflect.DeepEqual(loaded, got) {
		t.Errorf("Load with nothing set =\n%+v\nwant Default()\n%+v", loaded, got)
	}
}

func TestPrintRedactsSecretsAndSorts(t *testing.T) {
	secrets := map[string]string{
		"GATEHOUSE_DATABASE_URL":             "postgres://gh:db-hunter2@db:5432/gatehouse",
		"GATEHOUSE_REDIS_URL":                "rediss://:redis-hunter2@cache:6379/0",
		"GATEHOUSE_MASTER_KEY":               secret.EncodeMasterKey(bytes.Repeat([]byte{7}, 32)),
		"GATEHOUSE_MASTER_KEY_PREVIOUS":      secret.EncodeMasterKey(bytes.Repeat([]byte{8}, 32)) + "," + secret.EncodeMasterKey(bytes.Repeat([]byte{9}, 32)),
		"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD": "admin-hunter2-password",
	}
	c, _, err := load(t, nil, secrets)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for name, v := range secrets {
		if strings.Contains(out, v) {
			t.Errorf("Print output contains the value of %s", name)
		}
		if !strings.Contains(out, "\n"+name+"=[REDACTED]\n") {
			t.Errorf("Print output lacks %s=[REDACTED]", name)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("Print output contains part of a secret")
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !slices.IsSorted(lines) {
		t.Errorf("Print output is not sorted:\n%s", out)
	}
	for _, want := range []string{"GATEHOUSE_ACCESS_TOKEN_TTL=15m", "GATEHOUSE_REFRESH_TOKEN_TTL=720h",
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP=30/1m", "GATEHOUSE_MFA_REQUIRED_ROLES=admin", "GATEHOUSE_TRUSTED_PROXIES="} {
		if !slices.Contains(lines, want) {
			t.Errorf("Print output lacks line %q", want)
		}
	}

	buf.Reset()
	if err := config.Default().Print(&buf); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"GATEHOUSE_DATABASE_URL", "GATEHOUSE_MASTER_KEY", "GATEHOUSE_MASTER_KEY_PREVIOUS"} {
		if !strings.Contains(buf.String(), "\n"+name+"=\n") {
			t.Errorf("Print of an unset secret should show %s= empty", name)
		}
	}
}

// Print's output, loaded again, gives the same configuration.
func TestPrintLoadsBack(t *testing.T) {
	c, _, err := load(t, nil, map[string]string{
		"GATEHOUSE_ISSUER":                "https://auth.example.com",
		"GATEHOUSE_LISTEN":                "0.0.0.0:9000",
		"GATEHOUSE_MFA_REQUIRED_ROLES":    "none",
		"GATEHOUSE_TRUSTED_PROXIES":       "10.0.0.0/8,192.168.1.10",
		"GATEHOUSE_REFRESH_REUSE_GRACE":   "1m30s",
		"GATEHOUSE_RATE_LIMIT_API_PER_IP": "0",
		"GATEHOUSE_TOKEN_AUDIENCE":        "api,web",
		"GATEHOUSE_PASSWORD_GRANT":        "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(buf.String()) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		env[k] = v
	}
	again, _, err := load(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, c) {
		t.Errorf("loaded back =\n%+v\nwant\n%+v", again, c)
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	var usage, printed bytes.Buffer
	if err := config.Usage(&usage); err != nil {
		t.Fatal(err)
	}
	if err := config.Default().Print(&printed); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(printed.String()) {
		name, _, _ := strings.Cut(line, "=")
		if !strings.Contains(usage.String(), name) {
			t.Errorf("Usage lacks %s", name)
		}
	}
	for _, want := range []string{"--access-token-ttl duration", "GATEHOUSE_MASTER_KEY_FILE", "--master-key-file", "(default 15m)",
		"GATEHOUSE_MASTER_KEY_PREVIOUS_FILE", "--master-key-previous-file"} {
		if !strings.Contains(usage.String(), want) {
			t.Errorf("Usage lacks %q", want)
		}
	}
}
