package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// Warnings are problems worth telling the operator that do not stop a start,
// such as an unknown GATEHOUSE_* variable. They never contain a value.
type Warnings []string

// Load returns the configuration given by the GATEHOUSE_* variables, read
// through getenv, overridden by the flags in args (the flags alone, without
// the program or subcommand name; --access-token-ttl=5m sets
// GATEHOUSE_ACCESS_TOKEN_TTL). An empty variable counts as unset. Every secret
// also accepts GATEHOUSE_<NAME>_FILE and --<name>-file, naming a file whose
// content, without its trailing newline, is the value; giving both the value
// and the file is an error.
//
// environ is the whole environment as "KEY=VALUE" (os.Environ()); each
// GATEHOUSE_* variable in it that Gatehouse does not know becomes a warning.
//
// Load does not call Validate. Its error joins every bad variable, or holds
// the first bad flag (flag.ErrHelp for -h); no error or warning ever contains
// a secret's value.
func Load(args []string, getenv func(string) string, environ []string) (Config, Warnings, error) {
	c := defaults()
	warnings := unknownVariables(environ)
	set := map[string]bool{}
	if err := loadEnv(&c, getenv, set); err != nil {
		return Config{}, warnings, err
	}
	if err := loadFlags(&c, args, set); err != nil {
		return Config{}, warnings, err
	}
	c.derive(set)
	if !set["ISSUER"] && c.Issuer != "" && !isLoopbackHost(listenHost(c.Listen)) {
		warnings = append(warnings, fmt.Sprintf(
			"%sISSUER is unset, so tokens name %s as their issuer; set %sISSUER to the public URL clients use",
			EnvPrefix, c.Issuer, EnvPrefix))
	}
	return c, warnings, nil
}

// loadEnv applies the variables, collecting every error.
func loadEnv(c *Config, getenv func(string) string, set map[string]bool) error {
	var errs []error
	for _, f := range fields {
		v := getenv(f.env())
		if f.secret() {
			if path := getenv(f.fileEnv()); path != "" {
				if v != "" {
					errs = append(errs, fmt.Errorf("%s and %s are both set; keep only one", f.env(), f.fileEnv()))
					continue
				}
				var err error
				if v, err = readSecretFile(f.fileEnv(), path); err != nil {
					errs = append(errs, err)
					continue
				}
			}
		}
		if v == "" {
			continue
		}
		if err := f.bind(c).Set(v); err != nil {
			errs = append(errs, badValue(f, f.env(), v, err))
			continue
		}
		set[f.name] = true
	}
	return errors.Join(errs...)
}

// loadFlags applies the flags in args over the variables.
func loadFlags(c *Config, args []string, set map[string]bool) error {
	fs := flag.NewFlagSet("gatehouse", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	files := map[string]*string{}
	for _, f := range fields {
		fs.Var(f.bind(c), f.flagName(), f.help)
		if f.secret() {
			files[f.name] = fs.String(f.flagName()+"-file", "", "file holding "+f.env())
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w; see --help", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; settings are flags such as --listen=127.0.0.1:8080", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var errs []error
	for _, f := range fields {
		if given[f.flagName()] {
			set[f.name] = true
		}
		if !f.secret() || !given[f.flagName()+"-file"] {
			continue
		}
		name := "--" + f.flagName() + "-file"
		if given[f.flagName()] {
			errs = append(errs, fmt.Errorf("--%s and %s are both given; keep only one", f.flagName(), name))
			continue
		}
		v, err := readSecretFile(name, *files[f.name])
		if err == nil {
			err = f.bind(c).Set(v) // a secret's Set cannot fail
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set[f.name] = true
	}
	return errors.Join(errs...)
}

// badValue explains a value that does not parse. A secret's value is never
// repeated (and a secret's Set never fails, but this stays safe if one does).
func badValue(f field, source, v string, err error) error {
	if f.secret() {
		return fmt.Errorf("%s: %w", source, err)
	}
	return fmt.Errorf("%s=%q: %w", source, v, err)
}

// readSecretFile returns the content of the file at path without its trailing
// newline. Errors name source and the path, never any content.
func readSecretFile(source, path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the file on purpose
	if err != nil {
		reason := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		return "", fmt.Errorf("%s: cannot read %s: %v; check the path and that Gatehouse may read it", source, path, reason)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty; put the secret in it or unset %s", source, path, source)
	}
	return s, nil
}

// issuerFromListen derives the issuer from the listen address: http, or https
// when TLS is on, with a wildcard host replaced by 127.0.0.1. It returns ""
// when listen is not host:port.
func issuerFromListen(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// listenHost returns the host part of a listen address, as issuerFromListen
// would use it.
func listenHost(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		return "" // serves on every interface, including ones other machines reach
	}
	return host
}

// isLoopbackHost reports whether host is localhost or a loopback address
// (127.0.0.0/8, ::1).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// unknownVariables warns about every GATEHOUSE_* name in environ that is
// neither a setting nor a secret's _FILE, suggesting the closest known name.
// GATEHOUSE_TEST_* and GATEHOUSE_REQUIRE_* belong to the tests and pass.
func unknownVariables(environ []string) Warnings {
	known := map[string]bool{}
	var names []string
	for _, f := range fields {
		known[f.env()] = true
		names = append(names, f.env())
		if f.secret() {
			known[f.fileEnv()] = true
			names = append(names, f.fileEnv())
		}
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix)
		if !ok || strings.HasPrefix(rest, "TEST_") || strings.HasPrefix(rest, "REQUIRE_") {
			continue
		}
		if !known[name] && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	var w Warnings
	for _, name := range unknown {
		msg := "unknown variable " + name
		if base, ok := strings.CutSuffix(name, "_FILE"); ok && known[base] {
			msg += " (only secrets accept _FILE; set " + base + " itself)"
		} else if s := closest(name, names, 3); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		w = append(w, msg)
	}
	return w
}

// closest returns the candidate nearest to s by edit distance, if it is
// within limit; ties go to the earlier candidate.
func closest(s string, candidates []string, limit int) string {
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
