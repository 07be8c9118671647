// Command loadtest measures Gatehouse over HTTP against the targets of
// docs/benchmarks.md, on this machine, in one bounded run:
//
//	go run ./internal/loadtest [-duration 10s] [-engine auto|sqlite|postgres|both] [-only name,…]
//
// It builds the real binary, starts it on a free 127.0.0.1 port with a
// temporary data dir (and, for PostgreSQL, a database of its own that it
// drops at the end), seeds what the scenarios need through the public API,
// and drives each scenario with wrk (fixed GET/POST requests) or a Go
// closed-loop generator (chained refresh tokens, the password grant).
// Each ratio compares with a reference measured in the same run with the
// same generator: a minimal net/http handler in its own process, or raw
// argon2id hashing in this process.
//
// Everything runs on loopback, every scenario is bounded in time and in
// requests, the children get SIGTERM (then SIGKILL) at the end or when this
// process dies, and the whole run stops by itself after about
// scenarios × (duration + warm-up) + 60 s.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	engine      string
	only        map[string]bool
	postgresURL string
	wrkBin      string
	wrkThreads  int
	wrkConns    int
	maxRequests int64
	perfDir     string
	serverLog   string
	keep        bool
	serverEnv   []string
	pgParams    string
}

// envList collects repeated KEY=VALUE flags.
type envList []string

func (l *envList) String() string { return strings.Join(*l, " ") }

func (l *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, not %q", v)
	}
	*l = append(*l, v)
	return nil
}

func main() {
	var o options
	var only, minimal string
	var minimalTTL time.Duration
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration of each scenario")
	flag.StringVar(&o.engine, "engine", "auto", "database engines: sqlite, postgres, both, or auto (both when PostgreSQL answers)")
	flag.StringVar(&only, "only", "", "comma-separated scenarios to run (name or name@engine); their references run too")
	flag.StringVar(&o.postgresURL, "postgres-url", envOr("GATEHOUSE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"a loopback PostgreSQL server on which the load test creates (and drops) a database of its own")
	flag.StringVar(&o.wrkBin, "wrk", "wrk", "the wrk binary for fixed-request scenarios")
	flag.IntVar(&o.wrkThreads, "wrk-threads", 2, "wrk threads")
	flag.IntVar(&o.wrkConns, "wrk-conns", 64, "wrk connections")
	flag.Int64Var(&o.maxRequests, "max-requests", 2_000_000, "cap on the requests of one closed-loop scenario")
	flag.StringVar(&o.perfDir, "perf", "", "record `dir`/<scenario>.data with perf for each Gatehouse scenario (costs CPU: not for the recorded figures)")
	flag.StringVar(&o.serverLog, "server-log", "", "write the last 64 KiB of each server's output to `dir`/gatehouse-<engine>.log when it stops (with -server-env GODEBUG=gctrace=1, the collector's trace)")
	flag.Var((*envList)(&o.serverEnv), "server-env", "extra `KEY=VALUE` for the server's environment (repeatable), for experiments such as GOMEMLIMIT=off")
	flag.StringVar(&o.pgParams, "postgres-params", "", "extra `query` for the server's PostgreSQL URL, for experiments such as synchronous_commit=off (pgx sends unknown parameters as run-time settings)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, data dir, wrk scripts) and the PostgreSQL database")
	flag.StringVar(&minimal, "minimal-server", "", "internal: serve the reference handler on `addr`")
	flag.DurationVar(&minimalTTL, "minimal-ttl", 10*time.Minute, "internal: lifetime of the reference handler")
	flag.Usage = usage
	flag.Parse()
	if minimal != "" {
		if err := serveMinimal(minimal, minimalTTL); err != nil {
			fmt.Fprintln(os.Stderr, "minimal server:", err)
			os.Exit(1)
		}
		return
	}
	if o.duration < time.Second {
		fmt.Fprintln(os.Stderr, "loadtest: -duration must be at least 1s")
		os.Exit(2)
	}
	o.warmup = min(o.duration/10, time.Second)
	if only != "" {
		o.only = map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.only[n] = true
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// usage prints the flags, leaving out the internal ones the program passes
// to the copy of itself that serves the reference handler.
func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprintln(out, "usage: go run ./internal/loadtest [-duration 10s] [-engine auto|sqlite|postgres|both] [-only name,…]")
	fmt.Fprintln(out, "scenarios:", strings.Join(scenarioNames(), ", "))
	flag.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		name, text := flag.UnquoteUsage(f)
		fmt.Fprintf(out, "  -%s %s\n    \t%s", f.Name, name, text)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(out, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// runner holds what every scenario shares.
type runner struct {
	o          options
	tmp        string
	bin        string
	minimal    *proc
	minimalURL string
	results    []*result
	refs       map[string]*result
	revision   string
	planned    int
	done       int
}

// engineRun is one started Gatehouse and what was seeded into it.
type engineRun struct {
	engine    string
	srv       *proc
	base      string
	seed      *seed
	refresh   []string // one chained refresh token per refresh worker
	apiKey    string   // a valid API key (the verify scenario seeds it)
	idleRSS   int64
	afterRSS  int64
	peakHWM   int64
	dbCleanup func()
}

func run(ctx context.Context, o options) int {
	began := time.Now()
	engines, note, err := chooseEngines(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 2
	}
	if note != "" {
		fmt.Println(note)
	}
	plans := planAll(o, engines)
	total := 0
	for _, p := range plans {
		total += len(p.scenarios)
	}
	if total == 0 {
		fmt.Fprintln(os.Stderr, "loadtest: -only selects no scenario; known:", strings.Join(scenarioNames(), ", "))
		return 2
	}
	// The whole run is bounded: each scenario gets its warm-up and
	// duration, and 60 s cover building, starting, seeding and stopping.
	budget := time.Duration(total)*(o.duration+o.warmup) + 60*time.Second
	for _, p := range plans {
		for _, sc := range p.scenarios {
			if sc.extra != nil {
				budget += sc.extra(o)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if len(o.serverEnv) > 0 {
		fmt.Println("server environment adds:", strings.Join(o.serverEnv, " "))
	}
	fmt.Printf("gatehouse load test: %d scenarios × (%s + %s warm-up), engines %s, %d CPUs, %s; stops by itself within %s\n",
		total, o.duration, o.warmup, strings.Join(engines, "+"), runtime.NumCPU(), runtime.Version(), budget.Round(time.Second))

	tmp, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	if o.keep {
		fmt.Println("keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	r := &runner{o: o, tmp: tmp, refs: map[string]*result{}, planned: total}
	if err := r.prepare(ctx, budget); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	defer r.minimal.stop(3 * time.Second)

	var mem []*engineRun
	failed := false
	for _, p := range plans {
		e, err := r.startEngine(ctx, p.engine)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			failed = true
			break
		}
		mem = append(mem, e)
		err = r.runPlan(ctx, e, p.scenarios)
		r.stopEngine(e)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			failed = true
			break
		}
	}
	fmt.Println()
	r.printTable(mem, began)
	if failed || ctx.Err() != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "loadtest: stopped early:", context.Cause(ctx))
		}
		return 1
	}
	return 0
}

// prepare builds the binary and starts the reference handler.
func (r *runner) prepare(ctx context.Context, budget time.Duration) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil { // #nosec G204 -- the module root from go env
		r.revision = strings.TrimSpace(string(out))
	}
	t0 := time.Now()
	if r.bin, err = buildServer(ctx, root, r.tmp, r.o.perfDir != ""); err != nil {
		return err
	}
	fmt.Printf("built %s (%s) in %s\n", r.bin, orDash(r.revision), time.Since(t0).Round(time.Millisecond))
	if _, err := exec.LookPath(r.o.wrkBin); err != nil {
		fmt.Printf("note: %s not found; fixed-request scenarios use the Go generator instead\n", r.o.wrkBin)
		r.o.wrkBin = ""
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	r.minimal, err = startProc("minimal handler", self, []string{"-minimal-server", addr, "-minimal-ttl", (budget + time.Minute).String()}, os.Environ())
	if err != nil {
		return err
	}
	r.minimalURL = "http://" + addr
	return waitReady(ctx, r.minimal, r.minimalURL+"/", 10*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// runPlan runs the scenarios on one engine, references first.
func (r *runner) runPlan(ctx context.Context, e *engineRun, list []*scenario) error {
	for _, sc := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.done++
		label := sc.name
		if sc.perEngine {
			label += " (" + e.engine + ")"
		}
		fmt.Printf("[%2d/%d] %-28s %s\n", r.done, r.planned, label, sc.describe(r))
		stopPerf := r.startPerf(ctx, sc, e)
		res, err := sc.run(ctx, r, e)
		stopPerf()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		res.name, res.isRef = sc.name, sc.isRef
		if sc.perEngine {
			res.engine = e.engine
		}
		if sc.ref != "" {
			res.ref = r.refs[sc.ref]
		}
		if sc.judge != nil {
			res.target, res.pass = sc.judge(res)
		}
		if sc.isRef {
			r.refs[sc.name] = res
		}
		r.results = append(r.results, res)
		fmt.Printf("        %s\n", res.line())
		if !sc.isRef {
			// Which scenario raises the server's peak (the table has only the last).
			if rss, hwm, err := memStatus(e.srv.pid()); err == nil {
				fmt.Printf("        server memory: VmRSS %s, peak so far %s\n", mib(rss), mib(hwm))
			}
		}
		if e.srv.exited() {
			return fmt.Errorf("gatehouse (%s) exited during %s: %v\n%s", e.engine, sc.name, e.srv.err, lastLines(e.srv.stderr.String(), 20))
		}
	}
	return nil
}

// startPerf records the server's CPU profile during a scenario when -perf is set.
func (r *runner) startPerf(ctx context.Context, sc *scenario, e *engineRun) func() {
	if r.o.perfDir == "" || sc.isRef {
		return func() {}
	}
	if err := os.MkdirAll(r.o.perfDir, 0o750); err != nil {
		fmt.Println("        perf:", err)
		return func() {}
	}
	name := sc.name
	if sc.perEngine {
		name += "-" + e.engine
	}
	out := filepath.Join(r.o.perfDir, name+".data")
	pctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(pctx, "perf", "record", "-F", "499", "-g", "-p", fmt.Sprint(e.srv.pid()), "-o", out) // #nosec G204 -- our own arguments
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		fmt.Println("        perf:", err)
		return func() {}
	}
	return func() {
		cancel()
		_ = cmd.Wait()
		fmt.Println("        perf profile:", out)
	}
}

func scenarioNames() []string {
	var out []string
	for _, s := range allScenarios() {
		if !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}
