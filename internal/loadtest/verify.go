package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// halfConc is the open-loop generator's worker pool: enough that workers
// are rarely all busy at half the closed-loop throughput.
const halfConc = 64

// lightConns are the connections of the light wrk run.
const lightConns = 4

type verifyStats struct {
	target, achieved float64 // requests/s asked for and answered (2xx)
	p50, p99         time.Duration
	svcP99           time.Duration // from the moment a worker sent it
	errors           int64
	// the light closed loop (wrk -t1 -c lightConns)
	lightRPS           float64
	lightP50, lightP99 time.Duration
	lightBad           int64
}

func (v *verifyStats) String() string {
	return fmt.Sprintf("half load (Go open loop, %d workers, fixed rate %.0f/s, latency from the scheduled send time): achieved %.0f/s, p50 %s, p99 %s (p99 from the actual send %s), errors %d",
		halfConc, v.target, v.achieved, fmtDur(v.p50), fmtDur(v.p99), fmtDur(v.svcP99), v.errors)
}

// verifyRequest is POST /api/v1/keys/verify of the seeded, valid key.
func verifyRequest(e *engineRun) (string, map[string]string) {
	return `{"key":"` + e.apiKey + `"}`, map[string]string{"Content-Type": "application/json"}
}

// verifyScenario seeds one API key, measures verification with wrk like the
// other fixed requests, then measures p99 at half the throughput wrk reached
// with a fixed-rate (open-loop) Go generator, wrk2 not being at hand.
func verifyScenario(ctx context.Context, r *runner, e *engineRun) (*result, error) {
	if e.apiKey == "" {
		a := api{base: e.base, c: newClient(1)}
		b, err := a.postJSON(ctx, "/api/v1/keys", e.seed.adminToken, map[string]any{"name": "load", "permissions": []string{"documents:read"}})
		if err != nil {
			return nil, fmt.Errorf("create API key: %w", err)
		}
		if e.apiKey = jsonString(b, "key"); e.apiKey == "" {
			return nil, fmt.Errorf("create API key: no key in %.200s", b)
		}
	}
	res, err := wrkScenario(http.MethodPost, "/api/v1/keys/verify", gatehouseTarget, verifyRequest)(ctx, r, e)
	if err != nil {
		return nil, err
	}
	body, hdr := verifyRequest(e)
	u := e.base + "/api/v1/keys/verify"
	fn := func(ctx context.Context, _ int, c *http.Client) reply {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
		if err != nil {
			return reply{err: err}
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			return reply{err: err}
		}
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		_, _ = drain(resp)
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(b[:n]), `"valid":true`) {
			return reply{status: resp.StatusCode, err: fmt.Errorf("not valid: %s", b[:n])}
		}
		return reply{status: resp.StatusCode}
	}
	rate := res.rps / 2
	c := newClient(halfConc)
	openLoop(ctx, rate, r.o.warmup, halfConc, r.o.maxRequests, c, fn)
	m := r.startMeter(strconv.Itoa(e.srv.pid()), e)
	v := openLoop(ctx, rate, r.o.duration, halfConc, r.o.maxRequests, c, fn)
	cpu := m.stop()
	res.verify = v
	noisy := ""
	if cpu.otherCores > noisyCores {
		noisy = " †"
	}
	res.notes = append(res.notes, v.String(), fmt.Sprintf("half-load window CPU: server %.2f cores, generator %.2f, others %.2f%s", cpu.targetCores, cpu.ownCores, cpu.otherCores, noisy))
	// A lighter closed loop as a second view of latency below saturation:
	// wrk with one thread and few connections (its rate is whatever they
	// reach, reported beside the p99).
	if r.o.wrkBin != "" {
		req := wrkRequest{method: http.MethodPost, path: "/api/v1/keys/verify", body: body, headers: hdr}
		script, err := writeWrkScript(r.tmp, fmt.Sprintf("req-%d-light", r.done), req)
		if err != nil {
			return nil, err
		}
		m := r.startMeter(strconv.Itoa(e.srv.pid()), e)
		w, err := runWrk(ctx, wrkOptions{bin: r.o.wrkBin, threads: 1, conns: lightConns, duration: r.o.duration}, script, e.base)
		cpu := m.stop()
		if err != nil {
			return nil, err
		}
		bad := max(w.status, w.non2xx) + w.connect + w.read + w.write + w.timeout
		v.lightRPS, v.lightP50, v.lightP99, v.lightBad = float64(w.requests-bad)/w.duration.Seconds(), w.p50, w.p99, bad
		noisy = ""
		if cpu.otherCores > noisyCores {
			noisy = " †"
		}
		res.notes = append(res.notes, fmt.Sprintf("light closed loop (wrk -t1 -c%d -d%s): %.0f req/s (%.2f × the full-load rate), p50 %s, p99 %s, errors %d; server %.2f cores, others %.2f%s",
			lightConns, r.o.duration, v.lightRPS, v.lightRPS/max(res.rps, 1), fmtDur(w.p50), fmtDur(w.p99), bad, cpu.targetCores, cpu.otherCores, noisy))
	}
	return res, nil
}

// openLoop sends requests at a fixed rate for d from a pool of workers and
// measures each latency from the time the request was due, so a generator
// or server that falls behind shows in the figures (no coordinated omission).
func openLoop(ctx context.Context, rate float64, d time.Duration, workers int, maxReq int64, c *http.Client, fn step) *verifyStats {
	v := &verifyStats{target: rate}
	if rate <= 0 {
		return v
	}
	due := make(chan time.Time, 4096)
	lats := make([][]time.Duration, workers)
	svc := make([][]time.Duration, workers)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for at := range due {
				t0 := time.Now()
				rep := fn(ctx, w, c)
				now := time.Now()
				if rep.err != nil || rep.status != http.StatusOK {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				lats[w] = append(lats[w], now.Sub(at))
				svc[w] = append(svc[w], now.Sub(t0))
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	n := int64(min(float64(maxReq), rate*d.Seconds()))
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		due <- at // blocks when every worker is busy: the wait counts in the latency
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)
	var all, all2 []time.Duration
	for w := range workers {
		all = append(all, lats[w]...)
		all2 = append(all2, svc[w]...)
	}
	slices.Sort(all)
	slices.Sort(all2)
	v.achieved = float64(len(all)) / elapsed.Seconds()
	v.p50, v.p99, v.svcP99 = percentile(all, 50), percentile(all, 99), percentile(all2, 99)
	v.errors = errs.Load()
	return v
}

// verifyTarget: ≥ 60% of minimal-post, and p99 under 2 ms at half that
// load (the rate achieved within 5% of the one asked for).
func verifyTarget(res *result) (string, *bool) {
	const t = "≥ 60% of minimal-post; p99 < 2 ms at half that load"
	if res.ref == nil || res.verify == nil {
		return t + " (reference not run)", nil
	}
	v := res.verify
	ok := res.ratio() >= 0.60 && res.nErrors == 0 && v.errors == 0 && v.p99 < 2*time.Millisecond && v.achieved >= 0.95*v.target
	return t, &ok
}
