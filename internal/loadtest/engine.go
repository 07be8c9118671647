package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop the load test database
)

func chooseEngines(ctx context.Context, o options) ([]string, string, error) {
	switch o.engine {
	case "sqlite":
		return []string{"sqlite"}, "", nil
	case "postgres", "both":
		if err := checkPostgres(ctx, o.postgresURL); err != nil {
			return nil, "", err
		}
		if o.engine == "postgres" {
			return []string{"postgres"}, "", nil
		}
		return []string{"sqlite", "postgres"}, "", nil
	case "auto":
		if err := checkPostgres(ctx, o.postgresURL); err != nil {
			return []string{"sqlite"}, "note: PostgreSQL skipped (" + err.Error() + ")", nil
		}
		return []string{"sqlite", "postgres"}, "", nil
	}
	return nil, "", fmt.Errorf("-engine must be sqlite, postgres, both or auto, not %q", o.engine)
}

// checkPostgres insists on a loopback server that answers.
func checkPostgres(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("-postgres-url is not a postgres:// URL")
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-postgres-url must point at a loopback server, not %q", u.Hostname())
	}
	db, err := sql.Open("pgx", raw)
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("PostgreSQL at %s does not answer: %w", u.Host, err)
	}
	return nil
}

// createDatabase makes gh_load_<random> on the server of base and returns
// its URL and a function that drops it.
func createDatabase(ctx context.Context, base string) (string, func(), error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gh_load_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = db.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: drop database %s: %v\n", name, err)
		}
		_ = db.Close()
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String(), drop, nil
}

// startEngine starts Gatehouse on engine, waits for /readyz, samples its
// idle memory, and seeds it.
func (r *runner) startEngine(ctx context.Context, engine string) (*engineRun, error) {
	e, err := r.launch(ctx, engine, "data-"+engine, nil)
	if err != nil {
		return nil, err
	}
	// Idle: started, bootstrapped, ready, nothing asked of it yet.
	sleepCtx(ctx, time.Second)
	e.idleRSS, _, _ = memStatus(e.srv.pid())
	a := api{base: e.base, c: newClient(4)}
	t0 := time.Now()
	if e.seed, err = seedServer(ctx, a, passwordConc); err != nil {
		r.stopEngine(e)
		return nil, err
	}
	if e.refresh, err = sessions(ctx, a, e.seed.users, refreshConc); err != nil {
		r.stopEngine(e)
		return nil, fmt.Errorf("refresh sessions: %w", err)
	}
	fmt.Printf("gatehouse (%s) ready: idle RSS %s; seeded admin, client, %d users, %d sessions in %s\n",
		engine, mib(e.idleRSS), len(e.seed.users), len(e.refresh), time.Since(t0).Round(time.Millisecond))
	return e, nil
}

// launch starts a Gatehouse on engine with its own data dir (or database)
// and waits for /readyz. extraEnv comes last and so overrides the defaults
// (os/exec keeps the last value of a repeated key).
func (r *runner) launch(ctx context.Context, engine, dataName string, extraEnv []string) (*engineRun, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e := &engineRun{engine: engine, base: "http://" + addr}
	dataDir := filepath.Join(r.tmp, dataName)
	env := append(envWithout("GATEHOUSE_"),
		"GATEHOUSE_LISTEN="+addr,
		"GATEHOUSE_ISSUER="+e.base,
		"GATEHOUSE_TOKEN_AUDIENCE="+e.base,
		"GATEHOUSE_DATA_DIR="+dataDir,
		"GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD="+adminPassword,
		"GATEHOUSE_MFA_REQUIRED_ROLES=none",
		"GATEHOUSE_LOG_LEVEL=warn",
		// Every request comes from 127.0.0.1: per-IP and per-user limits
		// would measure the limiter, not the endpoints.
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP=0",
		"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER=0",
		"GATEHOUSE_RATE_LIMIT_API_PER_IP=0",
		"GATEHOUSE_RATE_LIMIT_VERIFY_FAILURES_PER_IP=0",
	)
	env = append(env, r.o.serverEnv...)
	env = append(env, extraEnv...)
	if engine == "postgres" {
		dbURL, drop, err := createDatabase(ctx, r.o.postgresURL)
		if err != nil {
			return nil, err
		}
		if r.o.pgParams != "" {
			sep := "?"
			if strings.Contains(dbURL, "?") {
				sep = "&"
			}
			dbURL += sep + r.o.pgParams
			fmt.Println("PostgreSQL URL adds:", r.o.pgParams)
		}
		e.dbCleanup = drop
		if r.o.keep {
			e.dbCleanup = func() { fmt.Println("keeping database", dbURL, "(drop it when done)") }
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		env = append(env, "GATEHOUSE_DATABASE_URL="+dbURL, "GATEHOUSE_MASTER_KEY="+base64.StdEncoding.EncodeToString(key))
	}
	fmt.Printf("starting gatehouse (%s) on %s\n", engine, addr)
	if len(extraEnv) > 0 {
		fmt.Printf("  with %s\n", strings.Join(extraEnv, " "))
	}
	e.srv, err = startProc("gatehouse ("+engine+")", r.bin, []string{"serve"}, env)
	if err != nil {
		if e.dbCleanup != nil {
			e.dbCleanup()
		}
		return nil, err
	}
	if err := waitReady(ctx, e.srv, e.base+"/readyz", 30*time.Second); err != nil {
		r.stopEngine(e)
		return nil, err
	}
	return e, nil
}

// saveServerLog writes the tail of the server's output to -server-log.
func (r *runner) saveServerLog(e *engineRun) {
	if r.o.serverLog == "" {
		return
	}
	path := filepath.Join(r.o.serverLog, "gatehouse-"+e.engine+".log")
	err := os.MkdirAll(r.o.serverLog, 0o750)
	if err == nil {
		err = os.WriteFile(path, []byte(e.srv.stderr.String()), 0o600)
	}
	if err != nil {
		fmt.Println("server log:", err)
		return
	}
	fmt.Println("server log:", path)
}

func (r *runner) stopEngine(e *engineRun) {
	if e.srv != nil && !e.srv.exited() {
		e.afterRSS, e.peakHWM, _ = memStatus(e.srv.pid())
		e.srv.stop(10 * time.Second)
		r.saveServerLog(e)
		if e.srv.err != nil {
			if tail := strings.TrimSpace(e.srv.stderr.String()); tail != "" {
				fmt.Printf("gatehouse (%s) log tail:\n%s\n", e.engine, lastLines(tail, 20))
			}
		}
	}
	if e.dbCleanup != nil {
		e.dbCleanup()
		e.dbCleanup = nil
	}
}
