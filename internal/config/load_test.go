package config_test

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

func TestLoadEnvKinds(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		got  func(config.Config) any
		want any
	}{
		{"string", map[string]string{"GATEHOUSE_DATA_DIR": "/var/lib/gatehouse"},
			func(c config.Config) any { return c.DataDir }, "/var/lib/gatehouse"},
		{"empty variable is unset", map[string]string{"GATEHOUSE_LISTEN": ""},
			func(c config.Config) any { return c.Listen }, "127.0.0.1:8080"},
		{"duration", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "5m"},
			func(c config.Config) any { return c.AccessTokenTTL }, 5 * time.Minute},
		{"duration in days", map[string]string{"GATEHOUSE_REFRESH_TOKEN_TTL": "90d"},
			func(c config.Config) any { return c.RefreshTokenTTL }, 90 * 24 * time.Hour},
		{"nested duration", map[string]string{"GATEHOUSE_LOCKOUT_WINDOW": "1h30m"},
			func(c config.Config) any { return c.Lockout.Window }, 90 * time.Minute},
		{"int", map[string]string{"GATEHOUSE_HASH_MEMORY_KIB": "65536"},
			func(c config.Config) any { return c.Hash.MemoryKiB }, 65536},
		{"int64", map[string]string{"GATEHOUSE_BODY_LIMIT_BYTES": "1048576"},
			func(c config.Config) any { return c.BodyLimitBytes }, int64(1048576)},
		{"bool false", map[string]string{"GATEHOUSE_PASSWORD_GRANT": "false"},
			func(c config.Config) any { return c.PasswordGrant }, false},
		{"bool 0", map[string]string{"GATEHOUSE_TOKEN_ROLE_CLAIMS": "0"},
			func(c config.Config) any { return c.TokenRoleClaims }, false},
		{"list trims and drops empty items", map[string]string{"GATEHOUSE_TOKEN_AUDIENCE": " api, web ,,"},
			func(c config.Config) any { return c.TokenAudience }, []string{"api", "web"}},
		{"roles", map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": "admin,lead_reviewer"},
			func(c config.Config) any { return c.MFARequiredRoles }, []string{"admin", "lead_reviewer"}},
		{"roles none", map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": "none"},
			func(c config.Config) any { return c.MFARequiredRoles }, []string{}},
		{"roles NONE", map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": " NONE "},
			func(c config.Config) any { return c.MFARequiredRoles }, []string{}},
		{"trusted proxies", map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10, ::1, fd00::/8, ::ffff:10.1.2.3"},
			func(c config.Config) any { return c.TrustedProxies }, []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"),
				netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.1.2.3/32"),
			}},
		{"rate", map[string]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP": "5/10s"},
			func(c config.Config) any { return c.RateLimit.LoginPerIP }, config.Rate{N: 5, Per: 10 * time.Second}},
		{"rate off", map[string]string{"GATEHOUSE_RATE_LIMIT_API_PER_IP": "0"},
			func(c config.Config) any { return c.RateLimit.APIPerIP.Off() }, true},
		{"secret", map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://db/gh"},
			func(c config.Config) any { return []any{c.DatabaseURL.Reveal(), c.SQLite()} }, []any{"postgres://db/gh", false}},
		{"issuer derived from listen", map[string]string{"GATEHOUSE_LISTEN": "localhost:9000"},
			func(c config.Config) any { return []any{c.Issuer, c.TokenAudience} },
			[]any{"http://localhost:9000", []string{"http://localhost:9000"}}},
		{"issuer derived with TLS", map[string]string{"GATEHOUSE_LISTEN": "[::1]:8443", "GATEHOUSE_TLS_CERT_FILE": "c.pem", "GATEHOUSE_TLS_KEY_FILE": "k.pem"},
			func(c config.Config) any { return c.Issuer }, "https://[::1]:8443"},
		{"issuer derived from wildcard", map[string]string{"GATEHOUSE_LISTEN": ":9000"},
			func(c config.Config) any { return c.Issuer }, "http://127.0.0.1:9000"},
		{"audience follows issuer", map[string]string{"GATEHOUSE_ISSUER": "https://auth.example.com"},
			func(c config.Config) any { return c.TokenAudience }, []string{"https://auth.example.com"}},
		{"hash queue follows workers", map[string]string{"GATEHOUSE_HASH_WORKERS": "3"},
			func(c config.Config) any { return []int{c.Hash.Workers, c.Hash.Queue} }, []int{3, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := load(t, nil, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"duration", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "15x"},
			[]string{`GATEHOUSE_ACCESS_TOKEN_TTL="15x"`, "15m"}},
		{"int", map[string]string{"GATEHOUSE_HASH_ITERATIONS": "two"},
			[]string{`GATEHOUSE_HASH_ITERATIONS="two"`, "whole number"}},
		{"bool", map[string]string{"GATEHOUSE_PASSWORD_GRANT": "maybe"},
			[]string{`GATEHOUSE_PASSWORD_GRANT="maybe"`, "true or false"}},
		{"rate", map[string]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER": "ten a minute"},
			[]string{"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER", "N/duration"}},
		{"none with roles", map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": "admin,none"},
			[]string{"GATEHOUSE_MFA_REQUIRED_ROLES", `"none" must stand alone`}},
		{"every bad variable at once", map[string]string{
			"GATEHOUSE_ID_TOKEN_TTL": "soon", "GATEHOUSE_LOCKOUT_THRESHOLD": "many", "GATEHOUSE_TRUSTED_PROXIES": "nowhere"},
			[]string{"GATEHOUSE_ID_TOKEN_TTL", "GATEHOUSE_LOCKOUT_THRESHOLD", "GATEHOUSE_TRUSTED_PROXIES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, nil, tt.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestLoadTrustedProxiesErrors(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{"10.0.0.300", []string{`"10.0.0.300" is not an IP address or CIDR`, "10.0.0.0/8"}},
		{"example.com", []string{`"example.com" is not an IP address or CIDR`}},
		{"10.0.0.1/8", []string{`"10.0.0.1/8" has bits set`, "10.0.0.0/8", "10.0.0.1/32"}},
		{"10.0.0.0/33", []string{`"10.0.0.0/33" is not a valid CIDR`}},
		{"fe80::1%eth0", []string{`"fe80::1%eth0" is not an IP address`}},
		{"10.0.0.0/8, bad, 2001:db8::/129", []string{`"bad"`, `"2001:db8::/129"`}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, _, err := load(t, nil, map[string]string{"GATEHOUSE_TRUSTED_PROXIES": tt.value})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range append(tt.want, "GATEHOUSE_TRUSTED_PROXIES") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestLoadFlagsOverrideEnv(t *testing.T) {
	keyFile := writeFile(t, "master.key", "Bwc"+strings.Repeat("A", 40)+"\n")
	env := map[string]string{
		"GATEHOUSE_LISTEN":           "127.0.0.1:1111",
		"GATEHOUSE_PASSWORD_GRANT":   "false",
		"GATEHOUSE_ACCESS_TOKEN_TTL": "5m",
		"GATEHOUSE_MASTER_KEY":       "from-env",
	}
	tests := []struct {
		name string
		args []string
		got  func(config.Config) any
		want any
	}{
		{"no flags keep env", nil, func(c config.Config) any { return c.Listen }, "127.0.0.1:1111"},
		{"string", []string{"--listen=127.0.0.1:2222"}, func(c config.Config) any { return c.Listen }, "127.0.0.1:2222"},
		{"single dash and space", []string{"-listen", "127.0.0.1:3333"}, func(c config.Config) any { return c.Listen }, "127.0.0.1:3333"},
		{"bool alone", []string{"--password-grant"}, func(c config.Config) any { return c.PasswordGrant }, true},
		{"bool false", []string{"--token-role-claims=false"}, func(c config.Config) any { return c.TokenRoleClaims }, false},
		{"duration", []string{"--access-token-ttl=1h"}, func(c config.Config) any { return c.AccessTokenTTL }, time.Hour},
		{"list", []string{"--token-audience=a,b"}, func(c config.Config) any { return c.TokenAudience }, []string{"a", "b"}},
		{"nested", []string{"--hash-memory-kib=65536"}, func(c config.Config) any { return c.Hash.MemoryKiB }, 65536},
		{"secret", []string{"--master-key=from-flag"}, func(c config.Config) any { return c.MasterKey.Reveal() }, "from-flag"},
		{"secret file flag", []string{"--master-key-file", keyFile},
			func(c config.Config) any { return c.MasterKey.Reveal() }, "Bwc" + strings.Repeat("A", 40)},
		{"previous master keys file flag", []string{"--master-key-previous-file", keyFile},
			func(c config.Config) any { return c.MasterKeyPrevious.Reveal() }, "Bwc" + strings.Repeat("A", 40)},
		{"issuer flag drives audience", []string{"--issuer=https://id.example.com"},
			func(c config.Config) any { return c.TokenAudience }, []string{"https://id.example.com"}},
		{"listen flag drives issuer", []string{"--listen=127.0.0.1:4444"},
			func(c config.Config) any { return c.Issuer }, "http://127.0.0.1:4444"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := load(t, tt.args, env)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadFlagErrors(t *testing.T) {
	keyFile := writeFile(t, "master.key", "flag-file-secret\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad value", []string{"--access-token-ttl=soon"}, "access-token-ttl"},
		{"unknown flag", []string{"--listn=:1"}, "listn"},
		{"positional argument", []string{"--listen=:1", "extra"}, `unexpected argument "extra"`},
		{"value and file", []string{"--master-key=flag-secret", "--master-key-file=" + keyFile}, "both given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.args, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			for _, s := range []string{"flag-secret", "flag-file-secret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
	if _, _, err := load(t, []string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Load(-h) error = %v, want flag.ErrHelp", err)
	}
}

func TestLoadSecretFiles(t *testing.T) {
	const content = "correct horse battery staple"
	good := writeFile(t, "password", content+"\n")
	crlf := writeFile(t, "password-crlf", content+"\r\n")
	empty := writeFile(t, "empty", "\n")
	missing := filepath.Join(t.TempDir(), "no-such-file")

	tests := []struct {
		name    string
		env     map[string]string
		want    string // the secret, when Load succeeds
		wantErr []string
	}{
		{"file", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE": good}, content, nil},
		{"file with CRLF", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE": crlf}, content, nil},
		{"variable", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD": content}, content, nil},
		{"both set", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD": content, "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE": good},
			"", []string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD and GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE are both set"}},
		{"missing file", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE": missing},
			"", []string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE", missing, "no such file"}},
		{"directory", map[string]string{"GATEHOUSE_MASTER_KEY_FILE": t.TempDir()},
			"", []string{"GATEHOUSE_MASTER_KEY_FILE", "cannot read"}},
		{"previous master keys both set", map[string]string{"GATEHOUSE_MASTER_KEY_PREVIOUS": content, "GATEHOUSE_MASTER_KEY_PREVIOUS_FILE": good},
			"", []string{"GATEHOUSE_MASTER_KEY_PREVIOUS and GATEHOUSE_MASTER_KEY_PREVIOUS_FILE are both set"}},
		{"empty file", map[string]string{"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE": empty},
			"", []string{empty, "is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := load(t, nil, tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.BootstrapAdminPassword.Reveal(); got != tt.want {
					t.Errorf("secret = %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), content) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want config.Warnings
	}{
		{"typo", map[string]string{"GATEHOUSE_LISTN": "127.0.0.1:9000"},
			config.Warnings{"unknown variable GATEHOUSE_LISTN (did you mean GATEHOUSE_LISTEN?)"}},
		{"typo in a secret's file", map[string]string{"GATEHOUSE_MASTER_KEY_FLE": "/run/secrets/k"},
			config.Warnings{"unknown variable GATEHOUSE_MASTER_KEY_FLE (did you mean GATEHOUSE_MASTER_KEY_FILE?)"}},
		{"nothing close", map[string]string{"GATEHOUSE_COLOUR_SCHEME": "dark"},
			config.Warnings{"unknown variable GATEHOUSE_COLOUR_SCHEME"}},
		{"file of a non-secret", map[string]string{"GATEHOUSE_ISSUER_FILE": "/x"},
			config.Warnings{"unknown variable GATEHOUSE_ISSUER_FILE (only secrets accept _FILE; set GATEHOUSE_ISSUER itself)"}},
		{"sorted", map[string]string{"GATEHOUSE_ZZZ": "1", "GATEHOUSE_AAA": "1"},
			config.Warnings{"unknown variable GATEHOUSE_AAA", "unknown variable GATEHOUSE_ZZZ"}},
		{"known names, test and other variables pass", map[string]string{
			"GATEHOUSE_LISTEN": "127.0.0.1:1", "GATEHOUSE_MASTER_KEY_FILE": writeFile(t, "k", "x"),
			"GATEHOUSE_MASTER_KEY_PREVIOUS_FILE": writeFile(t, "p", "x"), "HOME": "/root",
			"GATEHOUSE_TEST_DATABASE_URL": "postgres://x", "GATEHOUSE_REQUIRE_POSTGRES": "1"}, nil},
		{"issuer derived from a wildcard listen", map[string]string{"GATEHOUSE_LISTEN": "0.0.0.0:8080"},
			config.Warnings{"GATEHOUSE_ISSUER is unset, so tokens name http://127.0.0.1:8080 as their issuer; set GATEHOUSE_ISSUER to the public URL clients use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := load(t, nil, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// A secret set in a mistyped variable is reported by name only.
func TestLoadWarningsNeverShowValues(t *testing.T) {
	_, warnings, err := load(t, nil, map[string]string{"GATEHOUSE_MASTER_KY": "top-secret-value"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || strings.Contains(warnings[0], "top-secret-value") {
		t.Errorf("warnings = %q, want one naming only the variable", warnings)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
