package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport returns a keep-alive transport with a connection per worker.
func newTransport(conc int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        2 * conc,
		MaxIdleConnsPerHost: 2 * conc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// reply is what a worker's step saw.
type reply struct {
	status     int
	retryAfter time.Duration // from a 503's Retry-After
	err        error         // transport error or a broken invariant
}

// step sends one request for worker w and returns what came back.
type step func(ctx context.Context, w int, c *http.Client) reply

// loopStats are the observations of one closed-loop run.
type loopStats struct {
	elapsed  time.Duration
	byStatus map[int]int64
	transErr int64
	// badResp counts answers whose status was fine but whose content broke
	// an invariant (a 200 without a refresh_token, a 503 without Retry-After).
	badResp int64
	// latencies by status class: "2xx", "503", "429", "other"
	lat       map[string][]time.Duration
	errSample []string
}

func statusClass(s int) string {
	switch {
	case s >= 200 && s < 300:
		return "2xx"
	case s == http.StatusServiceUnavailable:
		return "503"
	case s == http.StatusTooManyRequests:
		return "429"
	}
	return "other"
}

type loopOptions struct {
	conc     int
	duration time.Duration
	maxReq   int64
	// honorRetryAfter makes a worker sleep for a 503's Retry-After before
	// its next request, as a well-behaved client does.
	honorRetryAfter bool
}

// closedLoop runs conc workers, each sending its next request as soon as the
// previous one is answered, for duration or until maxReq requests were
// sent, whichever comes first. Only requests started within the window
// count; the window is measured from the start to the last answer.
func closedLoop(ctx context.Context, o loopOptions, c *http.Client, fn step) loopStats {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sent atomic.Int64
	type workerStats struct {
		byStatus map[int]int64
		transErr int64
		badResp  int64
		lat      map[string][]time.Duration
		errs     []string
	}
	ws := make([]workerStats, o.conc)
	perWorker := int(min(o.maxReq/int64(o.conc)+1, 1<<20))
	start := time.Now()
	stopAt := start.Add(o.duration)
	var wg sync.WaitGroup
	for w := range o.conc {
		ws[w] = workerStats{byStatus: map[int]int64{}, lat: map[string][]time.Duration{"2xx": make([]time.Duration, 0, min(perWorker, 1<<16))}}
		wg.Go(func() {
			st := &ws[w]
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				if sent.Add(1) > o.maxReq {
					return
				}
				t0 := time.Now()
				r := fn(ctx, w, c)
				d := time.Since(t0)
				if ctx.Err() != nil && r.err != nil {
					return // cancelled mid-request: not an observation
				}
				if r.err != nil && r.status == 0 {
					st.transErr++
					if len(st.errs) < 3 {
						st.errs = append(st.errs, r.err.Error())
					}
					time.Sleep(10 * time.Millisecond) // no hot spin on a dead server
					continue
				}
				if r.err != nil {
					// An error with a 2xx or an expected 503 breaks an
					// invariant; with another status the status already counts.
					if cl := statusClass(r.status); cl == "2xx" || cl == "503" {
						st.badResp++
					}
					if len(st.errs) < 3 {
						st.errs = append(st.errs, r.err.Error())
					}
				}
				st.byStatus[r.status]++
				cl := statusClass(r.status)
				st.lat[cl] = append(st.lat[cl], d)
				if o.honorRetryAfter && r.status == http.StatusServiceUnavailable && r.retryAfter > 0 {
					wait := time.Until(stopAt)
					if r.retryAfter < wait {
						wait = r.retryAfter
					}
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
		})
	}
	wg.Wait()
	out := loopStats{elapsed: time.Since(start), byStatus: map[int]int64{}, lat: map[string][]time.Duration{}}
	for _, st := range ws {
		for k, v := range st.byStatus {
			out.byStatus[k] += v
		}
		out.transErr += st.transErr
		out.badResp += st.badResp
		for k, v := range st.lat {
			out.lat[k] = append(out.lat[k], v...)
		}
		if len(out.errSample) < 5 {
			out.errSample = append(out.errSample, st.errs...)
		}
	}
	for _, v := range out.lat {
		slices.Sort(v)
	}
	return out
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}

// postForm sends a form POST and returns the status, the Retry-After of a
// 503, and the body when keep is set (else it is drained).
func postForm(ctx context.Context, c *http.Client, url, body, basicAuth string, keep bool) (int, time.Duration, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicAuth != "" {
		req.Header.Set("Authorization", "Basic "+basicAuth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	var b []byte
	if keep {
		b, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return 0, 0, nil, err
	}
	var ra time.Duration
	if resp.StatusCode == http.StatusServiceUnavailable {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			ra = time.Duration(n) * time.Second
		}
	}
	return resp.StatusCode, ra, b, nil
}

// jsonString extracts the string member name of a flat JSON object without
// decoding it all; tokens and ids here never hold escapes.
func jsonString(body []byte, name string) string {
	key := `"` + name + `":"`
	s := string(body)
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return ""
	}
	return s[:j]
}
