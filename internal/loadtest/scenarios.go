package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Concurrency of the closed-loop scenarios (the figures).
const (
	refreshConc  = 32
	passwordConc = 64
)

// scenario is one measurement.
type scenario struct {
	name      string
	isRef     bool
	perEngine bool   // touches the database: runs on every engine
	ref       string // the reference it is compared with
	gen       func(r *runner) string
	run       func(ctx context.Context, r *runner, e *engineRun) (*result, error)
	judge     func(res *result) (string, *bool)
	// extra is time the scenario needs beyond warm-up + duration, added to
	// the run's budget.
	extra func(o options) time.Duration
}

func (s *scenario) describe(r *runner) string { return s.gen(r) }

func allScenarios() []*scenario {
	return []*scenario{
		{name: "minimal-get", isRef: true, gen: wrkGen, run: wrkScenario(http.MethodGet, "/", minimalTarget, nil)},
		{name: "jwks", ref: "minimal-get", gen: wrkGen, run: wrkScenario(http.MethodGet, "/.well-known/jwks.json", gatehouseTarget, nil),
			judge: ratioAtLeast(0.70)},
		{name: "discovery", ref: "minimal-get", gen: wrkGen, run: wrkScenario(http.MethodGet, "/.well-known/openid-configuration", gatehouseTarget, nil),
			judge: ratioAtLeast(0.70)},
		{name: "forward-auth", ref: "minimal-get", gen: wrkGen, run: wrkScenario(http.MethodGet, "/api/v1/forward-auth?role=admin&permission=documents:read", gatehouseTarget, forwardAuthRequest),
			judge: ratioAtLeast(0.40)},
		{name: "minimal-post", isRef: true, gen: wrkGen, run: wrkScenario(http.MethodPost, "/", minimalTarget, introspectRequest)},
		{name: "introspect", ref: "minimal-post", gen: wrkGen, run: wrkScenario(http.MethodPost, "/oauth2/introspect", gatehouseTarget, introspectRequest),
			judge: ratioAtLeast(0.50)},
		{name: "client-credentials", perEngine: true, ref: "minimal-post", gen: wrkGen,
			run: wrkScenario(http.MethodPost, "/oauth2/token", gatehouseTarget, clientCredentialsRequest), judge: ratioAtLeast(0.15)},
		{name: "minimal-go", isRef: true, gen: goGen(refreshConc), run: minimalGoScenario},
		{name: "refresh", perEngine: true, ref: "minimal-go", gen: goGen(refreshConc), run: refreshScenario, judge: refreshTarget},
		{name: "argon2-raw", isRef: true, gen: func(*runner) string {
			return fmt.Sprintf("in-process, %d goroutines hashing in a loop", runtime.NumCPU())
		}, run: argonScenario},
		{name: "password", ref: "argon2-raw", gen: goGen(passwordConc), run: passwordScenario(false), judge: passwordTarget},
		{name: "password-retry-after", ref: "argon2-raw", gen: func(*runner) string {
			return fmt.Sprintf("Go closed loop, %d workers that wait out Retry-After", passwordConc)
		}, run: passwordScenario(true), judge: informational},
		{name: "verify", ref: "minimal-post", gen: func(r *runner) string {
			return wrkGen(r) + fmt.Sprintf("; then Go open loop at half its rate; then wrk -t1 -c%d", lightConns)
		}, run: verifyScenario, judge: verifyTarget, extra: func(o options) time.Duration { return 2*o.duration + o.warmup + 5*time.Second }},
		{name: "minimal-stuffing", isRef: true, gen: goGen(stuffConc), run: minimalStuffingScenario},
		{name: "stuffing", ref: "minimal-stuffing", gen: func(r *runner) string {
			return fmt.Sprintf("own server with the default sign-in limits; %d legit sign-ins, then Go closed loop, %d workers, %s from %s + legit prober",
				legitProbes, stuffConc, stuffingDuration(r.o), attackerIP)
		}, run: stuffingScenario("stuffing", nil), judge: stuffingTarget,
			extra: func(o options) time.Duration { return stuffingDuration(o) + legitProbes*probeEvery + 40*time.Second }},
		{name: "stuffing-unpaced", ref: "minimal-stuffing", gen: func(r *runner) string {
			return "as stuffing, with refusals answered at once (GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY=0): the limiter's own capacity"
		}, run: stuffingScenario("stuffing-unpaced", []string{"GATEHOUSE_RATE_LIMIT_REFUSAL_DELAY=0"}), judge: informational,
			extra: func(o options) time.Duration { return stuffingDuration(o) + legitProbes*probeEvery + 40*time.Second }},
	}
}

// plan is the ordered scenarios of one engine.
type plan struct {
	engine    string
	scenarios []*scenario
}

// planAll runs everything on the first engine and the database-bound
// scenarios on the others; -only narrows it, keeping needed references.
func planAll(o options, engines []string) []plan {
	all := allScenarios()
	selected := func(s *scenario, engine string) bool {
		return o.only == nil || o.only[s.name] || o.only[s.name+"@"+engine]
	}
	need := map[string]bool{}
	for i, eng := range engines {
		for _, s := range all {
			if (i == 0 || s.perEngine) && !s.isRef && selected(s, eng) {
				need[s.name+"@"+eng] = true
				if s.ref != "" {
					need[s.ref] = true
				}
			}
		}
	}
	var out []plan
	seenRef := map[string]bool{}
	for i, eng := range engines {
		p := plan{engine: eng}
		for _, s := range all {
			switch {
			case s.isRef:
				if (need[s.name] || (o.only != nil && o.only[s.name])) && !seenRef[s.name] {
					// A reference runs once, on the first engine that needs it.
					if i == 0 || refUsedOn(all, s.name, eng, need) {
						seenRef[s.name] = true
						p.scenarios = append(p.scenarios, s)
					}
				}
			case need[s.name+"@"+eng]:
				p.scenarios = append(p.scenarios, s)
			}
		}
		if len(p.scenarios) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func refUsedOn(all []*scenario, ref, engine string, need map[string]bool) bool {
	return slices.ContainsFunc(all, func(s *scenario) bool { return s.ref == ref && need[s.name+"@"+engine] })
}

func wrkGen(r *runner) string {
	if r.o.wrkBin == "" {
		return fmt.Sprintf("Go closed loop, %d workers (wrk missing)", r.o.wrkConns)
	}
	return fmt.Sprintf("wrk -t%d -c%d -d%s", r.o.wrkThreads, r.o.wrkConns, r.o.duration)
}

func goGen(conc int) func(*runner) string {
	return func(*runner) string { return fmt.Sprintf("Go closed loop, %d workers", conc) }
}

func minimalTarget(r *runner, _ *engineRun) (string, string) {
	return r.minimalURL, strconv.Itoa(r.minimal.pid())
}

func gatehouseTarget(_ *runner, e *engineRun) (string, string) {
	return e.base, strconv.Itoa(e.srv.pid())
}

// introspectRequest is RFC 7662 introspection of a JWT access token by a
// confidential client with Basic authentication; the reference handler gets
// the very same bytes.
func introspectRequest(e *engineRun) (string, map[string]string) {
	return "token=" + url.QueryEscape(e.seed.ccToken), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + e.seed.basic}
}

// forwardAuthRequest is a reverse proxy's question about a request carrying
// the admin's access token (a JWT), as nginx auth_request sends it.
func forwardAuthRequest(e *engineRun) (string, map[string]string) {
	return "", map[string]string{"Authorization": "Bearer " + e.seed.adminToken}
}

func clientCredentialsRequest(e *engineRun) (string, map[string]string) {
	return "grant_type=client_credentials", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + e.seed.basic}
}

// wrkScenario repeats one fixed request with wrk (or the Go loop without wrk).
func wrkScenario(method, path string, target func(*runner, *engineRun) (string, string),
	body func(*engineRun) (string, map[string]string)) func(context.Context, *runner, *engineRun) (*result, error) {
	return func(ctx context.Context, r *runner, e *engineRun) (*result, error) {
		req := wrkRequest{method: method, path: path}
		if body != nil {
			req.body, req.headers = body(e)
		}
		base, pid := target(r, e)
		if err := preflight(ctx, base, req); err != nil {
			return nil, err
		}
		if r.o.wrkBin == "" {
			return goFixed(ctx, r, e, pid, base, req)
		}
		script, err := writeWrkScript(r.tmp, fmt.Sprintf("req-%d", r.done), req)
		if err != nil {
			return nil, err
		}
		if _, err := runWrk(ctx, wrkOptions{bin: r.o.wrkBin, threads: r.o.wrkThreads, conns: r.o.wrkConns, duration: r.o.warmup}, script, base); err != nil {
			return nil, err
		}
		m := r.startMeter(pid, e)
		w, err := runWrk(ctx, wrkOptions{bin: r.o.wrkBin, threads: r.o.wrkThreads, conns: r.o.wrkConns, duration: r.o.duration}, script, base)
		cpu := m.stop()
		if err != nil {
			return nil, err
		}
		bad := max(w.status, w.non2xx)
		res := &result{generator: wrkGen(r), conc: r.o.wrkConns, p50: w.p50, p99: w.p99, requests: w.requests,
			rps: float64(w.requests-bad) / w.duration.Seconds(), cpu: &cpu}
		if bad > 0 {
			res.addErr(fmt.Sprintf("non-2xx: %d", bad), bad)
		}
		if s := w.connect + w.read + w.write + w.timeout; s > 0 {
			res.addErr(fmt.Sprintf("socket: connect %d read %d write %d timeout %d", w.connect, w.read, w.write, w.timeout), s)
		}
		return res, nil
	}
}

// preflight sends the scenario's request once and insists on a 200, so a
// misconfigured scenario fails loudly instead of measuring error pages.
func preflight(ctx context.Context, base string, req wrkRequest) error {
	hreq, err := http.NewRequestWithContext(ctx, req.method, base+req.path, strings.NewReader(req.body))
	if err != nil {
		return err
	}
	for k, v := range req.headers {
		hreq.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(hreq)
	if err != nil {
		return fmt.Errorf("preflight %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("preflight %s %s: status %d: %s", req.method, req.path, resp.StatusCode, b[:n])
	}
	if req.path == "/oauth2/introspect" && !strings.Contains(string(b[:n]), `"active":true`) {
		return fmt.Errorf("preflight introspection: token not active: %s", b[:n])
	}
	if req.path == "/api/v1/keys/verify" && !strings.Contains(string(b[:n]), `"valid":true`) {
		return fmt.Errorf("preflight key verification: key not valid: %s", b[:n])
	}
	return nil
}

// goFixed is the fallback when wrk is missing.
func goFixed(ctx context.Context, r *runner, e *engineRun, pid, base string, req wrkRequest) (*result, error) {
	c := newClient(r.o.wrkConns)
	fn := func(ctx context.Context, _ int, c *http.Client) reply {
		hreq, err := http.NewRequestWithContext(ctx, req.method, base+req.path, strings.NewReader(req.body))
		if err != nil {
			return reply{err: err}
		}
		for k, v := range req.headers {
			hreq.Header.Set(k, v)
		}
		resp, err := c.Do(hreq)
		if err != nil {
			return reply{err: err}
		}
		_, err = drain(resp)
		return reply{status: resp.StatusCode, err: err}
	}
	o := loopOptions{conc: r.o.wrkConns, duration: r.o.warmup, maxReq: r.o.maxRequests}
	closedLoop(ctx, o, c, fn)
	o.duration = r.o.duration
	m := r.startMeter(pid, e)
	st := closedLoop(ctx, o, c, fn)
	return loopResult(goGen(r.o.wrkConns)(r), o.conc, st, nil).withCPU(m.stop()), nil
}

func newClient(conc int) *http.Client {
	return &http.Client{Transport: newTransport(conc), Timeout: 30 * time.Second}
}

// minimalGoScenario is the reference of the Go generator: the refresh
// request's shape against the minimal handler.
func minimalGoScenario(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	c := newClient(refreshConc)
	u := r.minimalURL + "/"
	body := "grant_type=refresh_token&refresh_token=" + strings.Repeat("x", 43)
	fn := func(ctx context.Context, _ int, c *http.Client) reply {
		st, _, _, err := postForm(ctx, c, u, body, "", false)
		return reply{status: st, err: err}
	}
	o := loopOptions{conc: refreshConc, duration: r.o.warmup, maxReq: r.o.maxRequests}
	closedLoop(ctx, o, c, fn)
	o.duration = r.o.duration
	m := r.startMeter(strconv.Itoa(r.minimal.pid()), e)
	st := closedLoop(ctx, o, c, fn)
	return loopResult(goGen(refreshConc)(r), refreshConc, st, nil).withCPU(m.stop()), nil
}

// refreshScenario: each worker holds its own session and sends every
// response's refresh_token as its next request's.
func refreshScenario(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	c := newClient(refreshConc)
	u := e.base + "/oauth2/token"
	var broken atomic.Int64
	fn := func(ctx context.Context, w int, c *http.Client) reply {
		if e.refresh[w] == "" {
			time.Sleep(time.Millisecond)
			return reply{err: errors.New("chain broken earlier")}
		}
		st, _, b, err := postForm(ctx, c, u, "grant_type=refresh_token&refresh_token="+e.refresh[w], "", true)
		if err != nil {
			return reply{err: err}
		}
		if st != http.StatusOK {
			if st == http.StatusBadRequest && strings.Contains(string(b), "invalid_grant") {
				e.refresh[w] = "" // the session is gone: this worker stops counting
				broken.Add(1)
			}
			return reply{status: st, err: fmt.Errorf("status %d: %.200s", st, b)}
		}
		next := jsonString(b, "refresh_token")
		if next == "" {
			return reply{status: st, err: fmt.Errorf("200 without refresh_token: %.200s", b)}
		}
		e.refresh[w] = next
		return reply{status: st}
	}
	o := loopOptions{conc: refreshConc, duration: r.o.warmup, maxReq: r.o.maxRequests}
	closedLoop(ctx, o, c, fn)
	o.duration = r.o.duration
	m := r.startMeter(strconv.Itoa(e.srv.pid()), e)
	st := closedLoop(ctx, o, c, fn)
	res := loopResult(goGen(refreshConc)(r), refreshConc, st, nil).withCPU(m.stop())
	if n := broken.Load(); n > 0 {
		res.addErr(fmt.Sprintf("%d chains broken (invalid_grant)", n), 0)
	}
	return res, nil
}

// argonScenario is the password grant's reference: NumCPU goroutines
// hashing with the default parameters in this process.
func argonScenario(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	p := user.DefaultHashParams()
	n := runtime.NumCPU()
	measure := func(d time.Duration) (int64, []time.Duration, time.Duration) {
		var wg sync.WaitGroup
		lats := make([][]time.Duration, n)
		stopAt := time.Now().Add(d)
		t0 := time.Now()
		for i := range n {
			wg.Go(func() {
				pw, salt := []byte(userPassword), []byte("0123456789abcdef")
				for ctx.Err() == nil && time.Now().Before(stopAt) {
					s := time.Now()
					_ = argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
					lats[i] = append(lats[i], time.Since(s))
				}
			})
		}
		wg.Wait()
		var all []time.Duration
		for _, l := range lats {
			all = append(all, l...)
		}
		slices.Sort(all)
		return int64(len(all)), all, time.Since(t0)
	}
	measure(r.o.warmup)
	m := r.startMeter("self", e)
	count, lats, elapsed := measure(r.o.duration)
	cpu := m.stop()
	return &result{generator: fmt.Sprintf("in-process, %d goroutines", n), conc: n, requests: count,
		rps: float64(count) / elapsed.Seconds(), p50: percentile(lats, 50), p99: percentile(lats, 99), cpu: &cpu,
		notes: []string{fmt.Sprintf("argon2id m=%d KiB t=%d p=%d; %.0f minor page faults per hash", p.MemoryKiB, p.Iterations, p.Parallelism,
			float64(cpu.targetFlt)/float64(max(count, 1)))}}, nil
}

// passwordScenario: passwordConc clients signing in in a closed loop, users
// round-robin. Beyond the hash pool's capacity the server must answer 503
// with Retry-After at once.
func passwordScenario(honor bool) func(context.Context, *runner, *engineRun) (*result, error) {
	return func(ctx context.Context, r *runner, e *engineRun) (*result, error) {
		c := newClient(passwordConc)
		u := e.base + "/oauth2/token"
		bodies := make([]string, len(e.seed.users))
		for i, name := range e.seed.users {
			bodies[i] = url.Values{"grant_type": {"password"}, "username": {name}, "password": {userPassword}, "scope": {loginScope}}.Encode()
		}
		fn := func(ctx context.Context, w int, c *http.Client) reply {
			st, ra, b, err := postForm(ctx, c, u, bodies[w%len(bodies)], "", true)
			if err != nil {
				return reply{err: err}
			}
			if st != http.StatusOK && st != http.StatusServiceUnavailable {
				return reply{status: st, err: fmt.Errorf("status %d: %.200s", st, b)}
			}
			if st == http.StatusServiceUnavailable && ra == 0 {
				return reply{status: st, err: errors.New("503 without Retry-After")}
			}
			return reply{status: st, retryAfter: ra}
		}
		o := loopOptions{conc: passwordConc, duration: r.o.warmup, maxReq: r.o.maxRequests, honorRetryAfter: honor}
		closedLoop(ctx, o, c, fn)
		// Let the warm-up's queued hashes finish before measuring.
		sleepCtx(ctx, 500*time.Millisecond)
		o.duration = r.o.duration
		m := r.startMeter(strconv.Itoa(e.srv.pid()), e)
		st := closedLoop(ctx, o, c, fn)
		cpu := m.stop()
		gen := goGen(passwordConc)(r)
		if honor {
			gen += ", honouring Retry-After"
		}
		res := loopResult(gen, passwordConc, st, []int{http.StatusServiceUnavailable}).withCPU(cpu)
		total := float64(st.byStatus[http.StatusOK] + st.byStatus[http.StatusServiceUnavailable])
		refused := st.lat["503"]
		acc := st.lat["2xx"]
		res.password = &passwordStats{
			share:  float64(st.byStatus[http.StatusServiceUnavailable]) / max(total, 1),
			refRPS: float64(len(refused)) / st.elapsed.Seconds(),
			accP50: percentile(acc, 50), accP99: percentile(acc, 99),
			refP50: percentile(refused, 50), refP99: percentile(refused, 99),
		}
		res.notes = append(res.notes, res.password.String(),
			fmt.Sprintf("server: %.0f minor page faults per accepted sign-in", float64(cpu.targetFlt)/max(1, float64(st.byStatus[http.StatusOK]))))
		return res, nil
	}
}

type passwordStats struct {
	share          float64
	refRPS         float64
	accP50, accP99 time.Duration
	refP50, refP99 time.Duration
}

func (p *passwordStats) String() string {
	return fmt.Sprintf("503 share %.1f%% (%.0f/s); accepted p50 %s p99 %s; refused p50 %s p99 %s",
		100*p.share, p.refRPS, fmtDur(p.accP50), fmtDur(p.accP99), fmtDur(p.refP50), fmtDur(p.refP99))
}

// Targets.

func ratioAtLeast(min float64) func(*result) (string, *bool) {
	return func(res *result) (string, *bool) {
		if res.ref == nil {
			return fmt.Sprintf("≥ %.0f%% of the reference (not run)", 100*min), nil
		}
		ok := res.ratio() >= min && res.nErrors == 0
		return fmt.Sprintf("≥ %.0f%% of %s", 100*min, res.ref.name), &ok
	}
}

func refreshTarget(res *result) (string, *bool) {
	ok := res.rps >= 3000 && res.p99 < 20*time.Millisecond && res.nErrors == 0
	return "≥ 3000 req/s, p99 < 20 ms", &ok
}

// passwordTarget: goodput ≥ 90% of raw hashing, refusals fast (p99 under
// 50 ms) and nothing accepted waits for seconds (p99 under 1 s).
func passwordTarget(res *result) (string, *bool) {
	p := res.password
	if res.ref == nil {
		return "≥ 90% of argon2-raw (not run)", nil
	}
	// Refused "fast instead of queueing for seconds": within the default
	// GATEHOUSE_HASH_QUEUE_WAIT (250 ms) and a margin.
	ok := res.ratio() >= 0.90 && res.nErrors == 0 && p.refP99 < 500*time.Millisecond && p.accP99 < time.Second
	return "≥ 90% of argon2-raw; 503 p99 < 500 ms; 200 p99 < 1 s", &ok
}

func informational(*result) (string, *bool) { return "(informational)", nil }
