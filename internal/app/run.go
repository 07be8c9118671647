package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
)

const usage = `gatehouse — identity, access and API keys in one binary

Usage: gatehouse <command> [flags]

  serve                         run the server (embedded SQLite unless GATEHOUSE_DATABASE_URL is set)
  migrate                       apply database migrations and exit
  doctor                        check configuration, database, keys and admins
  version                       print the version
  config print                  print the effective configuration (secrets redacted)
  user create|list|show|set-roles|disable|enable|unlock|mfa-reset|import
  key create|list|rotate|revoke
  client create|list|delete
  audit verify|export|tail      check the tamper-evident chain, export JSON lines, show recent events
  signing-key rotate            start signing with the next key now
  master-key rotate             re-encrypt every secret under GATEHOUSE_MASTER_KEY (old keys in GATEHOUSE_MASTER_KEY_PREVIOUS)

Every setting is a GATEHOUSE_* variable or the matching --flag; run
'gatehouse config print' to see them. Exit codes: 0 ok, 1 failure, 2 usage.
`

// Run executes one gatehouse command and returns its exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdio IO) int {
	if len(args) < 2 {
		fmt.Fprint(stdio.Stderr, usage)
		return ExitUsage
	}
	cmd, rest := args[1], args[2:]
	env := cmdEnv{ctx: ctx, getenv: getenv, environ: environ, io: stdio}
	var err error
	switch cmd {
	case "serve":
		err = env.serve(rest)
	case "migrate":
		err = env.migrate(rest)
	case "doctor":
		err = env.doctor(rest)
	case "version", "--version", "-v":
		fmt.Fprintln(stdio.Stdout, "gatehouse", Version)
	case "help", "--help", "-h":
		fmt.Fprint(stdio.Stdout, usage)
	case "config":
		err = env.configCmd(rest)
	case "user":
		err = env.userCmd(rest)
	case "client":
		err = env.clientCmd(rest)
	case "key":
		err = env.keyCmd(rest)
	case "audit":
		err = env.auditCmd(rest)
	case "signing-key":
		err = env.signingKeyCmd(rest)
	case "master-key":
		err = env.masterKeyCmd(rest)
	default:
		err = usagef("unknown command %q", cmd)
	}
	return exitCode(err, stdio.Stderr)
}

// cmdEnv is what every command receives.
type cmdEnv struct {
	ctx     context.Context
	getenv  func(string) string
	environ []string
	io      IO
}

// sub splits "name args…" for a command group, checking the name is known.
func sub(group string, args []string, known ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, usagef("%s needs a subcommand: %s", group, strings.Join(known, ", "))
	}
	for _, k := range known {
		if args[0] == k {
			return k, args[1:], nil
		}
	}
	return "", nil, usagef("unknown %s subcommand %q; try: %s", group, args[0], strings.Join(known, ", "))
}

// withSystem loads config from args (flags the command did not consume),
// opens the migrated system, runs fn and closes the store.
func (e cmdEnv) withSystem(args []string, fn func(s *system) error) error {
	return e.openSystem(args, false, fn)
}

// withExistingSystem is withSystem for commands that read what is there:
// when the SQLite database does not exist they fail and create nothing.
func (e cmdEnv) withExistingSystem(args []string, fn func(s *system) error) error {
	return e.openSystem(args, true, fn)
}

func (e cmdEnv) openSystem(args []string, mustExist bool, fn func(s *system) error) error {
	cfg, err := loadConfig(args, e.getenv, e.environ, e.io.Stderr)
	if err != nil {
		return err
	}
	return e.openLoaded(cfg, mustExist, fn)
}

// openLoaded is openSystem with the configuration already loaded.
func (e cmdEnv) openLoaded(cfg config.Config, mustExist bool, fn func(s *system) error) error {
	if mustExist {
		if err := requireDatabase(cfg); err != nil {
			return err
		}
	}
	s, err := open(e.ctx, cfg, e.io.Stderr, true)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.rbac.EnsureDefaults(e.ctx); err != nil {
		return err
	}
	return fn(s)
}

func (e cmdEnv) configCmd(args []string) error {
	name, rest, err := sub("config", args, "print")
	if err != nil {
		return err
	}
	_ = name
	cfg, err := loadConfig(rest, e.getenv, e.environ, e.io.Stderr)
	if err != nil {
		return err
	}
	return cfg.Print(e.io.Stdout)
}

func (e cmdEnv) migrate(args []string) error {
	return e.withSystem(args, func(s *system) error {
		fmt.Fprintf(e.io.Stdout, "database (%s) is migrated to the latest version\n", s.store.Engine())
		return nil
	})
}

func (e cmdEnv) signingKeyCmd(args []string) error {
	if _, rest, err := sub("signing-key", args, "rotate"); err != nil {
		return err
	} else {
		args = rest
	}
	return e.withSystem(args, func(s *system) error {
		if _, err := s.keys.Ensure(e.ctx, true); err != nil {
			return err
		}
		k := s.keys.Signer()
		fmt.Fprintf(e.io.Stdout, "now signing with key %s (%s); the previous key stays published until its tokens expire\n", k.KID(), k.Alg())
		return nil
	})
}
