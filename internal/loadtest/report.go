package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"
)

// result is one scenario's figures.
type result struct {
	name      string
	engine    string
	isRef     bool
	generator string
	conc      int
	requests  int64
	rps       float64 // successful (2xx) responses per second; hashes per second for argon2-raw
	p50, p99  time.Duration
	errs      []string
	nErrors   int64
	ref       *result
	target    string
	pass      *bool // nil: nothing to pass
	notes     []string
	password  *passwordStats
	stuffing  *stuffingStats
	verify    *verifyStats
	cpu       *cpuFigures
}

func (r *result) withCPU(f cpuFigures) *result {
	r.cpu = &f
	return r
}

// cpuText is the server's CPU use and its cost per successful request.
func (r *result) cpuText() string {
	if r.cpu == nil {
		return "—"
	}
	s := fmt.Sprintf("%.2f", r.cpu.targetCores)
	if r.rps > 0 {
		s += fmt.Sprintf(" · %s/req", fmtDur(time.Duration(r.cpu.targetCores/r.rps*float64(time.Second))))
	}
	return s
}

func (r *result) ownText() string {
	if r.cpu == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", r.cpu.ownCores)
}

func (r *result) othersText() string {
	if r.cpu == nil {
		return "—"
	}
	if r.engine == "postgres" || r.cpu.pgCores >= 0.05 {
		return fmt.Sprintf("%.2f + PostgreSQL %.2f", r.cpu.otherCores, r.cpu.pgCores)
	}
	return fmt.Sprintf("%.2f", r.cpu.otherCores+r.cpu.pgCores)
}

func (r *result) addErr(s string, n int64) {
	r.errs = append(r.errs, s)
	r.nErrors += max(n, 1)
}

func (r *result) ratio() float64 {
	if r.ref == nil || r.ref.rps == 0 {
		return 0
	}
	return r.rps / r.ref.rps
}

func (r *result) label() string {
	if r.engine != "" {
		return r.name + " (" + r.engine + ")"
	}
	return r.name
}

func (r *result) errText() string {
	if len(r.errs) == 0 {
		return "none"
	}
	return strings.Join(r.errs, "; ")
}

func (r *result) ratioText() string {
	if r.ref == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f × %s", r.ratio(), r.ref.name)
}

func (r *result) verdict() string {
	v := "FAIL"
	switch {
	case r.isRef:
		v = "reference"
	case r.pass == nil:
		v = "—"
	case *r.pass:
		v = "PASS"
	}
	if r.noisy() {
		v += " †"
	}
	return v
}

// noisyCores is how much CPU other processes may take during a measurement
// (or its reference) before its figure is marked as disturbed.
const noisyCores = 0.25

// noisy reports whether other processes (not this run's, not PostgreSQL)
// used more than noisyCores during the measurement or its reference.
func (r *result) noisy() bool {
	busy := func(x *result) bool { return x != nil && x.cpu != nil && x.cpu.otherCores > noisyCores }
	return busy(r) || busy(r.ref)
}

// line is the progress line of a finished scenario.
func (r *result) line() string {
	s := fmt.Sprintf("%s req/s  p50 %s  p99 %s  errors: %s  CPU server %s, generator %s, others %s", fmtRate(r.rps), fmtDur(r.p50), fmtDur(r.p99), r.errText(),
		r.cpuText(), r.ownText(), r.othersText())
	if r.ref != nil {
		s += "  ratio " + r.ratioText()
	}
	if r.target != "" {
		s += "  target " + r.target + ": " + r.verdict()
	}
	for _, n := range r.notes {
		s += "\n        " + n
	}
	return s
}

// loopResult turns closed-loop observations into a result. expected lists
// non-2xx statuses that are part of the scenario (the password grant's 503).
func loopResult(gen string, conc int, st loopStats, expected []int) *result {
	var ok, all int64
	for code, n := range st.byStatus {
		all += n
		if code >= 200 && code < 300 {
			ok += n
		}
	}
	acc := st.lat["2xx"]
	res := &result{generator: gen, conc: conc, requests: all, rps: float64(ok) / st.elapsed.Seconds(),
		p50: percentile(acc, 50), p99: percentile(acc, 99)}
	if len(acc) > 0 {
		// The shape tells a spread (queues, scheduling) from rare stalls
		// (a sync, a checkpoint, a pause), which p50 and p99 alone do not.
		res.notes = append(res.notes, fmt.Sprintf("2xx latency: p10 %s  p25 %s  p75 %s  p90 %s  p99.9 %s  max %s",
			fmtDur(percentile(acc, 10)), fmtDur(percentile(acc, 25)), fmtDur(percentile(acc, 75)), fmtDur(percentile(acc, 90)),
			fmtDur(percentile(acc, 99.9)), fmtDur(acc[len(acc)-1])))
	}
	codes := make([]int, 0, len(st.byStatus))
	for code := range st.byStatus {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		if (code >= 200 && code < 300) || slices.Contains(expected, code) {
			continue
		}
		res.addErr(fmt.Sprintf("%d: %d", code, st.byStatus[code]), st.byStatus[code])
	}
	if st.transErr > 0 {
		res.addErr(fmt.Sprintf("transport: %d", st.transErr), st.transErr)
	}
	if st.badResp > 0 {
		res.addErr(fmt.Sprintf("bad answers: %d", st.badResp), st.badResp)
	}
	if len(st.errSample) > 0 && res.nErrors > 0 {
		res.notes = append(res.notes, "first errors: "+strings.Join(st.errSample, " | "))
	}
	return res
}

func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtRate(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// printTable prints the Markdown summary: scenarios, then memory.
func (r *runner) printTable(mem []*engineRun, began time.Time) {
	fmt.Printf("## Gatehouse load test — %s, revision %s, %d CPUs, %s, %s per scenario (+%s warm-up), run took %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), orDash(r.revision), runtime.NumCPU(), runtime.Version(), r.o.duration, r.o.warmup,
		time.Since(began).Round(time.Second))
	fmt.Println("| scenario | generator | conc. | req/s | p50 | p99 | errors | ratio | target | result | server CPU (cores · per req) | generator CPU | other CPU |")
	fmt.Println("|---|---|--:|--:|--:|--:|---|--:|---|---|--:|--:|--:|")
	for _, res := range r.results {
		fmt.Printf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", res.label(), res.generator, res.conc,
			fmtRate(res.rps), fmtDur(res.p50), fmtDur(res.p99), res.errText(), res.ratioText(), orDash(res.target), res.verdict(),
			res.cpuText(), res.ownText(), res.othersText())
	}
	if len(mem) > 0 {
		fmt.Println()
		fmt.Println("| server memory | idle VmRSS (after start) | VmRSS after the load | peak VmHWM | target | result |")
		fmt.Println("|---|--:|--:|--:|---|---|")
		for _, e := range mem {
			// The figures are MB (10^6 bytes), the stricter reading.
			idle := e.idleRSS < 40e6
			peak := e.peakHWM < 100e6
			fmt.Printf("| gatehouse (%s) | %s | %s | %s (%.1f MB) | idle < 40 MB (%s), peak < 100 MB (%s) | %s / %s |\n", e.engine,
				mib(e.idleRSS), mib(e.afterRSS), mib(e.peakHWM), float64(e.peakHWM)/1e6, mib(40e6), mib(100e6), passText(idle), passText(peak))
		}
	}
	var notes []string
	for _, res := range r.results {
		if res.noisy() {
			notes = append(notes, fmt.Sprintf("- †: other processes used more than %.2f of a core during the measurement or its reference (column other CPU); re-run on a quiet machine before trusting that figure", noisyCores))
			break
		}
	}
	for _, res := range r.results {
		for _, n := range res.notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", res.label(), n))
		}
	}
	if len(notes) > 0 {
		fmt.Println()
		fmt.Println(strings.Join(notes, "\n"))
	}
}

func passText(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
