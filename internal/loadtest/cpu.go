package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on every Linux
// this runs on).
const clockTicks = 100

// procCPU returns the CPU ticks (user+system) and minor page faults of a
// process; with children set, also those of its waited-for children (wrk).
func procCPU(pid string, children bool) (ticks, minflt int64) {
	b, err := os.ReadFile("/proc/" + pid + "/stat") // #nosec G304 -- a /proc path built from a process id
	if err != nil {
		return 0, 0
	}
	s := string(b)
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	num := func(n int) int64 {
		if n-3 >= len(f) {
			return 0
		}
		v, _ := strconv.ParseInt(f[n-3], 10, 64)
		return v
	}
	ticks = num(14) + num(15)
	if children {
		ticks += num(16) + num(17)
	}
	return ticks, num(10)
}

// postgresTicks returns the CPU ticks of every process named postgres: the
// database server the PostgreSQL scenarios load (its other clients too,
// which are idle in a quiet run).
func postgresTicks() map[string]int64 {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, d := range dir {
		name := d.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/comm") // #nosec G304 -- a /proc path built from a process id
		if err != nil || strings.TrimSpace(string(b)) != "postgres" {
			continue
		}
		out[name], _ = procCPU(name, false)
	}
	return out
}

// postgresDelta is the CPU the postgres processes alive at the end used
// since before: per process, so one that exited meanwhile (an autovacuum
// worker) is left out instead of subtracting its whole life.
func postgresDelta(before, after map[string]int64) int64 {
	var n int64
	for pid, t := range after {
		n += t - before[pid]
	}
	return n
}

// machineBusy returns the busy ticks of all CPUs: user, nice, system and
// steal. Idle and iowait are not busy; irq and softirq are left out too,
// since they are mostly the loopback traffic and disk interrupts the
// scenario itself causes, charged to no process.
func machineBusy() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i == 5 || i == 6 || i >= 8 { // idle, iowait, irq, softirq; guest time is already in user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy
}

// meter measures CPU use during a scenario's measured window: the server
// under test's, ours (this process with wrk, and the idle other server) and
// everybody else's, so a figure taken while another job loaded the machine
// says so.
type meter struct {
	t0       time.Time
	target   string   // pid of the server under test, or "self"
	ours     []string // our other processes
	machine0 int64
	target0  int64
	flt0     int64
	ours0    int64
	pg0      map[string]int64
}

func (m *meter) oursNow() int64 {
	var n int64
	for _, pid := range m.ours {
		t, _ := procCPU(pid, pid == "self")
		n += t
	}
	return n
}

// startMeter starts measuring with target as the process under test.
func (r *runner) startMeter(target string, e *engineRun) *meter {
	m := &meter{t0: time.Now(), target: target}
	for _, pid := range []string{"self", strconv.Itoa(r.minimal.pid())} {
		if pid != target {
			m.ours = append(m.ours, pid)
		}
	}
	if e != nil && e.srv != nil && strconv.Itoa(e.srv.pid()) != target {
		m.ours = append(m.ours, strconv.Itoa(e.srv.pid()))
	}
	m.target0, m.flt0 = procCPU(target, target == "self")
	m.ours0 = m.oursNow()
	m.pg0 = postgresTicks()
	m.machine0 = machineBusy()
	return m
}

// cpuFigures are what a meter saw.
type cpuFigures struct {
	elapsed     time.Duration
	targetCores float64 // mean cores the server under test used
	targetFlt   int64   // its minor page faults
	ownCores    float64 // this process (the generator), wrk, the idle other server
	pgCores     float64 // the PostgreSQL server's processes
	otherCores  float64 // everything else on the machine
}

func (m *meter) stop() cpuFigures {
	machine := machineBusy()
	t, flt := procCPU(m.target, m.target == "self")
	own := m.oursNow() - m.ours0
	pg := postgresDelta(m.pg0, postgresTicks())
	el := time.Since(m.t0)
	// A process that exited meanwhile reads as 0 ticks: count nothing rather than less than nothing.
	cores := func(ticks int64) float64 { return max(0, float64(ticks)/clockTicks/el.Seconds()) }
	return cpuFigures{elapsed: el, targetCores: cores(t - m.target0), targetFlt: flt - m.flt0, ownCores: cores(own),
		pgCores: cores(pg), otherCores: max(0, cores(machine-m.machine0-(t-m.target0)-own-pg))}
}
