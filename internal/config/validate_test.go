package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func TestValidate(t *testing.T) {
	masterKey := secret.NewValue(secret.EncodeMasterKey(make([]byte, 32)))
	tests := []struct {
		name   string
		modify func(*config.Config)
		want   []string // each must appear in the error; none means valid
	}{
		{"defaults", func(*config.Config) {}, nil},
		{"https issuer with path", func(c *config.Config) { c.Issuer = "https://example.com/auth" }, nil},
		{"http on localhost", func(c *config.Config) { c.Issuer = "http://localhost:8080" }, nil},
		{"http on ::1", func(c *config.Config) { c.Issuer = "http://[::1]:8080" }, nil},
		{"http on 127.0.0.0/8", func(c *config.Config) { c.Issuer = "http://127.3.2.1" }, nil},
		{"cluster", func(c *config.Config) {
			c.DatabaseURL = secret.NewValue("postgresql://gh:pw@db/gh")
			c.RedisURL = secret.NewValue("rediss://cache:6379")
			c.MasterKey = masterKey
		}, nil},
		{"no reuse grace", func(c *config.Config) { c.RefreshReuseGrace = 0 }, nil},
		{"refusals at once", func(c *config.Config) { c.RateLimit.RefusalDelay = 0 }, nil},
		{"hash queue without wait", func(c *config.Config) { c.Hash.QueueWait = 0 }, nil},
		{"hash queue wait too long", func(c *config.Config) { c.Hash.QueueWait = time.Minute },
			[]string{"GATEHOUSE_HASH_QUEUE_WAIT=1m must be between 0 and 10s"}},
		{"refusal delay negative", func(c *config.Config) { c.RateLimit.RefusalDelay = -time.Second },
			[]string{"GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY=-1s must be between 0 and 1m"}},
		{"refusal delay too long", func(c *config.Config) { c.RateLimit.RefusalDelay = time.Hour },
			[]string{"GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY=1h must be between 0 and 1m"}},
		{"MFA for no role", func(c *config.Config) { c.MFARequiredRoles = []string{} }, nil},
		{"listen on a free port", func(c *config.Config) { c.Listen = "127.0.0.1:0" }, nil},

		{"http on a public host", func(c *config.Config) { c.Issuer = "http://auth.example.com" },
			[]string{"GATEHOUSE_ISSUER", "plain http", "use https", "GATEHOUSE_TLS_CERT_FILE"}},
		{"http on a private address", func(c *config.Config) { c.Issuer = "http://10.0.0.1:8080" }, []string{"plain http"}},
		{"http on a look-alike of localhost", func(c *config.Config) { c.Issuer = "http://localhost.example.com" }, []string{"plain http"}},
		{"relative issuer", func(c *config.Config) { c.Issuer = "auth.example.com" }, []string{"not an absolute http(s) URL"}},
		{"ftp issuer", func(c *config.Config) { c.Issuer = "ftp://auth.example.com" }, []string{"not an absolute http(s) URL"}},
		{"issuer with query", func(c *config.Config) { c.Issuer = "https://auth.example.com?x=1" }, []string{"query or fragment"}},
		{"issuer with fragment", func(c *config.Config) { c.Issuer = "https://auth.example.com#x" }, []string{"query or fragment"}},
		{"issuer with slash", func(c *config.Config) { c.Issuer = "https://auth.example.com/" }, []string{"remove it"}},
		{"issuer with user", func(c *config.Config) { c.Issuer = "https://u@auth.example.com" }, []string{"user information"}},
		{"issuer empty", func(c *config.Config) { c.Issuer = "" }, []string{"GATEHOUSE_ISSUER is empty"}},
		{"listen without port", func(c *config.Config) { c.Listen = "127.0.0.1" }, []string{`GATEHOUSE_LISTEN="127.0.0.1" is not host:port`}},
		{"listen with bad port", func(c *config.Config) { c.Listen = ":http" }, []string{"GATEHOUSE_LISTEN"}},
		{"metrics on the main port", func(c *config.Config) { c.MetricsListen = c.Listen }, []string{"GATEHOUSE_METRICS_LISTEN equals"}},
		{"negative duration", func(c *config.Config) { c.Lockout.Window = -time.Minute },
			[]string{"GATEHOUSE_LOCKOUT_WINDOW=-1m must be positive"}},
		{"zero duration", func(c *config.Config) { c.ShutdownTimeout = 0 }, []string{"GATEHOUSE_SHUTDOWN_TIMEOUT=0s must be positive"}},
		{"idle over absolute", func(c *config.Config) { c.RefreshTokenIdleTTL = 1000 * time.Hour },
			[]string{"GATEHOUSE_REFRESH_TOKEN_IDLE_TTL=1000h exceeds GATEHOUSE_REFRESH_TOKEN_TTL=720h"}},
		{"long access tokens", func(c *config.Config) { c.AccessTokenTTL = 25 * time.Hour }, []string{"GATEHOUSE_ACCESS_TOKEN_TTL=25h is over 24h"}},
		{"long grace", func(c *config.Config) { c.RefreshReuseGrace = 6 * time.Minute }, []string{"between 0 and 5m"}},
		{"negative grace", func(c *config.Config) { c.RefreshReuseGrace = -time.Second }, []string{"between 0 and 5m"}},
		{"signing alg", func(c *config.Config) { c.SigningAlg = "HS256" }, []string{`"HS256" is not supported`, "ES256, EdDSA, PS256, RS256"}},
		{"no audience", func(c *config.Config) { c.TokenAudience = nil }, []string{"GATEHOUSE_TOKEN_AUDIENCE is empty"}},
		{"cert without key", func(c *config.Config) { c.TLSCertFile = "c.pem" }, []string{"set both"}},
		{"log level", func(c *config.Config) { c.LogLevel = "verbose" }, []string{"GATEHOUSE_LOG_LEVEL", "debug, info, warn, error"}},
		{"log format", func(c *config.Config) { c.LogFormat = "xml" }, []string{"GATEHOUSE_LOG_FORMAT"}},
		{"hash memory", func(c *config.Config) { c.Hash.MemoryKiB = 4096 }, []string{"GATEHOUSE_HASH_MEMORY_KIB=4096"}},
		{"hash iterations", func(c *config.Config) { c.Hash.Iterations = 0 }, []string{"GATEHOUSE_HASH_ITERATIONS=0"}},
		{"hash parallelism", func(c *config.Config) { c.Hash.Parallelism = 256 }, []string{"GATEHOUSE_HASH_PARALLELISM=256"}},
		{"hash workers", func(c *config.Config) { c.Hash.Workers = -1 }, []string{"GATEHOUSE_HASH_WORKERS=-1"}},
		{"password min", func(c *config.Config) { c.Password.MinLength = 6 }, []string{"GATEHOUSE_PASSWORD_MIN_LENGTH=6 must be at least 8"}},
		{"password max", func(c *config.Config) { c.Password.MaxLength = 2048 }, []string{"GATEHOUSE_PASSWORD_MAX_LENGTH=2048"}},
		{"password min over max", func(c *config.Config) { c.Password.MinLength = 64; c.Password.MaxLength = 32 },
			[]string{"GATEHOUSE_PASSWORD_MIN_LENGTH=64 exceeds"}},
		{"lockout threshold", func(c *config.Config) { c.Lockout.Threshold = 0 }, []string{"GATEHOUSE_LOCKOUT_THRESHOLD=0"}},
		{"body limit", func(c *config.Config) { c.BodyLimitBytes = 0 }, []string{"GATEHOUSE_BODY_LIMIT_BYTES=0"}},
		{"rate without period", func(c *config.Config) { c.RateLimit.APIPerIP = config.Rate{N: 5} }, []string{"GATEHOUSE_RATE_LIMIT_API_PER_IP"}},
		{"database scheme", func(c *config.Config) {
			c.DatabaseURL = secret.NewValue("mysql://u:hunter2@db/gh")
			c.MasterKey = masterKey
		},
			[]string{"GATEHOUSE_DATABASE_URL must be a postgres:// or postgresql:// URL"}},
		{"database not a URL", func(c *config.Config) { c.DatabaseURL = secret.NewValue("hunter2:%zz"); c.MasterKey = masterKey },
			[]string{"GATEHOUSE_DATABASE_URL must be"}},
		{"redis scheme", func(c *config.Config) { c.RedisURL = secret.NewValue("http://:hunter2@cache") },
			[]string{"GATEHOUSE_REDIS_URL must be a redis:// or rediss:// URL"}},
		{"master key not base64", func(c *config.Config) { c.MasterKey = secret.NewValue("hunter2!!") },
			[]string{"GATEHOUSE_MASTER_KEY", "openssl rand -base64 32"}},
		{"master key too short", func(c *config.Config) { c.MasterKey = secret.NewValue(secret.EncodeMasterKey([]byte("hunter2"))) },
			[]string{"GATEHOUSE_MASTER_KEY", "32 bytes"}},
		{"cluster without master key", func(c *config.Config) { c.DatabaseURL = secret.NewValue("postgres://u:hunter2@db/gh") },
			[]string{"GATEHOUSE_MASTER_KEY is required with GATEHOUSE_DATABASE_URL"}},
		{"previous master keys", func(c *config.Config) {
			c.MasterKey = masterKey
			c.MasterKeyPrevious = secret.NewValue(secret.EncodeMasterKey(secret.RandomBytes(32)) + ", " + secret.EncodeMasterKey(secret.RandomBytes(32)) + "\n")
		}, nil},
		{"previous master key too short", func(c *config.Config) {
			c.MasterKeyPrevious = secret.NewValue(secret.EncodeMasterKey(secret.RandomBytes(32)) + "," + secret.EncodeMasterKey([]byte("hunter2")))
		}, []string{"GATEHOUSE_MASTER_KEY_PREVIOUS: key 2 of 2", "32 bytes"}},
		{"previous master key not base64", func(c *config.Config) { c.MasterKeyPrevious = secret.NewValue("hunter2!!") },
			[]string{"GATEHOUSE_MASTER_KEY_PREVIOUS", "not valid base64"}},
		{"previous master keys empty", func(c *config.Config) { c.MasterKeyPrevious = secret.NewValue(" , ") },
			[]string{"GATEHOUSE_MASTER_KEY_PREVIOUS holds no key"}},
		{"every problem at once", func(c *config.Config) {
			c.Issuer = "http://auth.example.com"
			c.AccessTokenTTL = 48 * time.Hour
			c.Hash.Parallelism = 0
			c.Password.MinLength = 4
			c.SigningAlg = "none"
			c.TLSKeyFile = "k.pem"
		}, []string{"GATEHOUSE_ISSUER", "GATEHOUSE_ACCESS_TOKEN_TTL", "GATEHOUSE_HASH_PARALLELISM",
			"GATEHOUSE_PASSWORD_MIN_LENGTH", "GATEHOUSE_SIGNING_ALG", "GATEHOUSE_TLS_CERT_FILE"}},
	}
	// errors.Join puts one problem per line.
	c := config.Default()
	c.Issuer, c.AccessTokenTTL, c.Hash.Parallelism = "http://auth.example.com", 48*time.Hour, 0
	if err := c.Validate(); err == nil || len(strings.Split(err.Error(), "\n")) != 3 {
		t.Errorf("Validate() with three problems = %v, want three lines", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			msg := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q contains a secret", msg)
			}
		})
	}
}
