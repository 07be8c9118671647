package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkRequest is the one fixed request a wrk run repeats.
type wrkRequest struct {
	method  string
	path    string
	body    string
	headers map[string]string
}

// wrkResult is what the done() hook of the script reports.
type wrkResult struct {
	requests int64
	duration time.Duration
	// status counts answers with a status > 399 (wrk does not split them
	// without a Lua response() hook, which would make wrk itself slower
	// and skew every ratio).
	status                                int64
	connect, read, write, timeout, non2xx int64
	p50, p99                              time.Duration
}

// The script sets the request once (wrk then sends the same bytes every
// time) and defines no response() hook, so wrk neither hands headers and
// body to Lua nor spends CPU the server needs.
const wrkScript = `
wrk.method = %q
wrk.path = %q
%s
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("GHRESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0)))
end
`

func luaQuote(s string) string { return strconv.Quote(s) } // Lua accepts Go's escapes for ASCII

func writeWrkScript(dir, name string, r wrkRequest) (string, error) {
	var extra strings.Builder
	if r.body != "" {
		fmt.Fprintf(&extra, "wrk.body = %s\n", luaQuote(r.body))
	}
	for k, v := range r.headers {
		fmt.Fprintf(&extra, "wrk.headers[%s] = %s\n", luaQuote(k), luaQuote(v))
	}
	path := filepath.Join(dir, name+".lua")
	src := fmt.Sprintf(wrkScript, r.method, r.path, extra.String())
	return path, os.WriteFile(path, []byte(src), 0o600)
}

type wrkOptions struct {
	bin      string
	threads  int
	conns    int
	duration time.Duration
}

// runWrk runs wrk against base+r.path and parses the script's result line.
func runWrk(ctx context.Context, o wrkOptions, script, base string) (wrkResult, error) {
	secs := max(1, int(o.duration.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, o.duration+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, "-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns), // #nosec G204 -- our own arguments
		"-d", strconv.Itoa(secs)+"s", "--timeout", "5s", "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	var res wrkResult
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  Non-2xx or 3xx responses:") {
			res.non2xx, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "  Non-2xx or 3xx responses:")), 10, 64)
		}
		f := strings.Fields(line)
		if len(f) != 10 || f[0] != "GHRESULT" {
			continue
		}
		n := make([]int64, 9)
		for i := range n {
			n[i], _ = strconv.ParseInt(f[i+1], 10, 64)
		}
		res.requests, res.duration, res.status = n[0], time.Duration(n[1])*time.Microsecond, n[2]
		res.connect, res.read, res.write, res.timeout = n[3], n[4], n[5], n[6]
		res.p50, res.p99 = time.Duration(n[7])*time.Microsecond, time.Duration(n[8])*time.Microsecond
		found = true
	}
	if !found {
		return wrkResult{}, fmt.Errorf("wrk printed no result line:\n%s", out)
	}
	return res, nil
}
