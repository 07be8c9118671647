package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The credential-stuffing scenario (issue: a legitimate user still signs in
// while one address stuffs credentials; report the refusals per second).
const (
	stuffConc    = 32
	attackerIP   = "198.51.100.66"
	legitUsers   = 8 // round-robin, so the per-user limit (10/1m) never refuses a probe
	legitProbes  = 20
	probeEvery   = 500 * time.Millisecond
	stuffDurMult = 2.5 // the attack lasts 2.5 × -duration (20 s at -duration 8s)
)

// legitIPs are the legitimate users' addresses, round-robin, so that the
// per-address limit (30/1m) never refuses a probe either.
var legitIPs = []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"}

// stuffingEnv is what the stuffing server runs with: the default sign-in
// limits on, and loopback trusted so X-Forwarded-For sets the address.
var stuffingEnv = []string{
	"GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP=30/1m",
	"GATEHOUSE_RATE_LIMIT_LOGIN_PER_USER=10/1m",
	"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32",
}

func stuffingDuration(o options) time.Duration {
	return time.Duration(float64(o.duration) * stuffDurMult)
}

type stuffingStats struct {
	refRPS           float64 // 429 per second
	refP50, refP99   time.Duration
	byStatus         map[int]int64
	idleP50, idleP99 time.Duration
	loadP50, loadP99 time.Duration
	idleN, loadN     int
	legitFail        []string
}

func (s *stuffingStats) ratio() float64 {
	if s.idleP99 == 0 {
		return 0
	}
	return float64(s.loadP99) / float64(s.idleP99)
}

// attackBody is the attacker's request: a fresh username, a wrong password.
func attackBody(n int64) string {
	return url.Values{"grant_type": {"password"}, "username": {fmt.Sprintf("victim%07d", n)},
		"password": {"Summer2024!"}, "scope": {loginScope}}.Encode()
}

func postXFF(ctx context.Context, c *http.Client, u, body, xff string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	_, _ = drain(resp)
	return resp.StatusCode, b[:n], nil
}

// attackStep is one attacker request to base (Gatehouse or the reference).
func attackStep(u string) step {
	var seq atomic.Int64
	return func(ctx context.Context, _ int, c *http.Client) reply {
		st, b, err := postXFF(ctx, c, u, attackBody(seq.Add(1)), attackerIP)
		if err != nil {
			return reply{err: err}
		}
		switch st {
		case http.StatusOK, http.StatusTooManyRequests, http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable:
			return reply{status: st}
		}
		return reply{status: st, err: fmt.Errorf("status %d: %.200s", st, b)}
	}
}

// minimalStuffingScenario is the reference: the attacker's very requests
// (same generator, workers, body shape and header) against the minimal handler.
func minimalStuffingScenario(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	c := newClient(stuffConc)
	fn := attackStep(r.minimalURL + "/")
	o := loopOptions{conc: stuffConc, duration: r.o.warmup, maxReq: r.o.maxRequests}
	closedLoop(ctx, o, c, fn)
	o.duration = r.o.duration
	m := r.startMeter(strconv.Itoa(r.minimal.pid()), e)
	st := closedLoop(ctx, o, c, fn)
	return loopResult(goGen(stuffConc)(r), stuffConc, st, nil).withCPU(m.stop()), nil
}

// stuffingScenario starts a Gatehouse of its own with the default sign-in
// limits (and env), measures a legitimate user's sign-in unloaded, then
// again while stuffConc workers stuff credentials from attackerIP.
func stuffingScenario(name string, env []string) func(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	return func(ctx context.Context, r *runner, e *engineRun) (*result, error) {
		return stuff(ctx, r, e, "data-"+name+"-"+e.engine, append(slices.Clone(stuffingEnv), env...))
	}
}

func stuff(ctx context.Context, r *runner, e *engineRun, dataDir string, env []string) (*result, error) {
	s, err := r.launch(ctx, e.engine, dataDir, env)
	if err != nil {
		return nil, err
	}
	defer r.stopEngine(s)
	a := api{base: s.base, c: newClient(4)}
	admin, _, err := a.passwordGrant(ctx, "admin", adminPassword)
	if err != nil {
		return nil, fmt.Errorf("admin sign-in: %w", err)
	}
	users := make([]string, legitUsers)
	for i := range users {
		users[i] = fmt.Sprintf("legit%02d", i)
		if _, err := a.postJSON(ctx, "/api/v1/users", admin, map[string]any{
			"username": users[i], "email": users[i] + "@example.com", "display_name": "Legit " + users[i], "password": userPassword,
		}); err != nil {
			return nil, fmt.Errorf("create user %s: %w", users[i], err)
		}
	}
	lc := newClient(1)
	u := s.base + "/oauth2/token"
	var probeN int
	probe := func() (time.Duration, string) {
		i := probeN
		probeN++
		body := url.Values{"grant_type": {"password"}, "username": {users[i%len(users)]}, "password": {userPassword}, "scope": {loginScope}}.Encode()
		ip := legitIPs[i%len(legitIPs)]
		t0 := time.Now()
		st, b, err := postXFF(ctx, lc, u, body, ip)
		d := time.Since(t0)
		switch {
		case err != nil:
			return d, fmt.Sprintf("%s from %s: %v", users[i%len(users)], ip, err)
		case st != http.StatusOK || !strings.Contains(string(b), "access_token"):
			return d, fmt.Sprintf("%s from %s: status %d: %.120s", users[i%len(users)], ip, st, b)
		}
		return d, ""
	}
	stats := &stuffingStats{}
	// One successful sign-in from each address first, so each is known.
	for range legitIPs {
		if _, fail := probe(); fail != "" {
			return nil, fmt.Errorf("legit warm-up sign-in: %s", fail)
		}
	}
	var idle []time.Duration
	for range legitProbes {
		d, fail := probe()
		if fail != "" {
			stats.legitFail = append(stats.legitFail, "unloaded: "+fail)
		} else {
			idle = append(idle, d)
		}
		sleepCtx(ctx, probeEvery-d)
	}
	slices.Sort(idle)
	stats.idleN, stats.idleP50, stats.idleP99 = len(idle), percentile(idle, 50), percentile(idle, 99)

	// The attack, with the legitimate user probing every probeEvery from
	// half a second in to half a second before its end.
	dur := stuffingDuration(r.o)
	c := newClient(stuffConc)
	o := loopOptions{conc: stuffConc, duration: dur, maxReq: r.o.maxRequests}
	m := r.startMeter(strconv.Itoa(s.srv.pid()), s)
	var st loopStats
	var wg sync.WaitGroup
	wg.Go(func() { st = closedLoop(ctx, o, c, attackStep(u)) })
	end := time.Now().Add(dur - probeEvery)
	sleepCtx(ctx, probeEvery)
	var loaded []time.Duration
	for ctx.Err() == nil && time.Now().Before(end) {
		d, fail := probe()
		if fail != "" {
			stats.legitFail = append(stats.legitFail, "under attack: "+fail)
		} else {
			loaded = append(loaded, d)
		}
		sleepCtx(ctx, probeEvery-d)
	}
	wg.Wait()
	cpu := m.stop()
	slices.Sort(loaded)
	stats.loadN, stats.loadP50, stats.loadP99 = len(loaded), percentile(loaded, 50), percentile(loaded, 99)

	refused := st.lat["429"]
	stats.byStatus = st.byStatus
	stats.refRPS = float64(len(refused)) / st.elapsed.Seconds()
	stats.refP50, stats.refP99 = percentile(refused, 50), percentile(refused, 99)
	res := loopResult(fmt.Sprintf("Go closed loop, %d workers, %s, + 1 legit prober", stuffConc, dur), stuffConc, st,
		[]int{http.StatusTooManyRequests, http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable}).withCPU(cpu)
	// The row's req/s is the refusals per second, its latencies theirs.
	res.rps, res.p50, res.p99 = stats.refRPS, stats.refP50, stats.refP99
	if n := st.byStatus[http.StatusOK]; n > 0 {
		res.addErr(fmt.Sprintf("attacker signed in: %d", n), n)
	}
	if len(stats.legitFail) > 0 {
		res.addErr(fmt.Sprintf("legit failures: %d", len(stats.legitFail)), int64(len(stats.legitFail)))
		res.notes = append(res.notes, "legit failures: "+strings.Join(stats.legitFail[:min(3, len(stats.legitFail))], " | "))
	}
	res.stuffing = stats
	res.notes = append(res.notes, stats.String())
	return res, nil
}

func (s *stuffingStats) String() string {
	codes := make([]int, 0, len(s.byStatus))
	for c := range s.byStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s.byStatus[c], c))
	}
	return fmt.Sprintf("attacker answers %s; refusals (429) %.0f/s, p50 %s p99 %s; legit sign-in unloaded p50 %s p99 %s (n=%d), under attack p50 %s p99 %s (n=%d): p99 %.2f× unloaded",
		strings.Join(parts, " "), s.refRPS, fmtDur(s.refP50), fmtDur(s.refP99), fmtDur(s.idleP50), fmtDur(s.idleP99), s.idleN,
		fmtDur(s.loadP50), fmtDur(s.loadP99), s.loadN, s.ratio())
}

// stuffingTarget: every legitimate sign-in succeeds, under attack its p99 is
// at most 3× the unloaded one, and the attacker never signs in.
func stuffingTarget(res *result) (string, *bool) {
	s := res.stuffing
	ok := s != nil && res.nErrors == 0 && len(s.legitFail) == 0 && s.loadN > 0 && s.ratio() <= 3
	return "legit sign-ins all succeed, p99 ≤ 3× unloaded (refusals/s reported)", &ok
}
