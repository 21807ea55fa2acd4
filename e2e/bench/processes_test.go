package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProcesses says where the CPU of a warm check and of a cold
// apply goes, process by process, next to the floor's: BENCH_HOSTS hosts
// (50), BENCH_REPEAT runs of each (3), taken in turn, each under a
// system-wide `perf record`, its samples counted by command name. The
// hosts share this machine, so sshd, sudo, the boot script, openssl and the
// worker are all in it, in ms of CPU per host. A cold apply's runs include
// emptying the hosts' directories and caches first, which the benchmark's
// own row shows. "cold, cached" is a cold apply to hosts that still have
// the worker: the workload's own cost, without the upload's.
func BenchmarkProcesses(b *testing.B) {
	hosts, _, repeat := mustConfig(b, 50, "0")
	if _, err := exec.LookPath("perf"); err != nil {
		b.Fatal("perf not found: install Debian's linux-perf")
	}
	bd := privateBed(b, hosts)
	ctx := context.Background()
	if r := runOpsmop(ctx, bd, false); r.Err != nil { // cache the worker, apply the workload
		b.Fatal(r.Err)
	}
	coldApply := func(worker bool) func() error {
		return func() error {
			if err := bd.reset(worker); err != nil {
				return err
			}
			return runOpsmop(ctx, bd, false).Err
		}
	}
	cols := profileRounds(b, repeat,
		func() error { return runFloor(ctx, bd).Err },
		func() error { return runOpsmop(ctx, bd, true).Err },
		coldApply(false), coldApply(true))
	printProcesses(os.Stdout, hosts, repeat, []string{"floor", "warm check", "cold, cached", "cold apply"}, cols)
}

// perfHz is the sampling rate: one sample is about 1 ms of one CPU.
const perfHz = 999

// profileRounds runs each case once to warm up, then n rounds of all the
// cases in turn, every run under a `perf record -a` of its own, and returns
// each case's samples by process, in CPU time. Taking the cases in turn, not
// one after the other, spreads this VM's drift in speed over all of them
// alike: run one after the other, a floor measured in a fast minute made
// the cases after it look up to 0.3x worse.
func profileRounds(b *testing.B, n int, cases ...func() error) []map[string]time.Duration {
	b.Helper()
	for _, run := range cases {
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	cols := make([]map[string]time.Duration, len(cases))
	for i := range cols {
		cols[i] = map[string]time.Duration{}
	}
	for range n {
		for i, run := range cases {
			for p, d := range profileRun(b, run) {
				cols[i][p] += d
			}
		}
	}
	return cols
}

// profileRun runs run once under `perf record -a` and returns the samples
// by process, in CPU time.
func profileRun(b *testing.B, run func() error) map[string]time.Duration {
	b.Helper()
	data := filepath.Join(b.TempDir(), "perf.data")
	rec := exec.Command("perf", "record", "-a", "-F", strconv.Itoa(perfHz), "-o", data)
	var stderr bytes.Buffer
	rec.Stderr = &stderr
	if err := rec.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // perf's own start-up is not ours to count
	if err := run(); err != nil {
		rec.Process.Kill()
		b.Fatal(err)
	}
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil && !stoppedBy(rec, syscall.SIGINT) {
		b.Fatalf("perf record: %v: %s", err, stderr.String())
	}
	out, err := exec.Command("perf", "report", "-i", data, "--sort", "comm", "-n", "--stdio", "-g", "none").Output()
	if err != nil {
		b.Fatalf("perf report: %v", err)
	}
	return samplesByProcess(bytes.NewReader(out), perfHz)
}

// stoppedBy says whether cmd ended on sig, which perf record does when
// told to stop: its data is complete.
func stoppedBy(cmd *exec.Cmd, sig syscall.Signal) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// workerComm is a cached worker's command name: opsmop-<sha256>, cut to 15
// characters by the kernel.
var workerComm = regexp.MustCompile(`^opsmop-[0-9a-f]{8}$`)

// samplesByProcess reads `perf report --sort comm -n` and turns sample
// counts into CPU time, naming the processes as the table does.
func samplesByProcess(r io.Reader, hz int) map[string]time.Duration {
	cpu := map[string]time.Duration{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		cpu[processName(strings.Join(f[2:], " "))] += time.Duration(n) * time.Second / time.Duration(hz)
	}
	return cpu
}

func processName(comm string) string {
	switch {
	case workerComm.MatchString(comm):
		return "worker (opsmop-<sha256>)"
	case comm == "opsmop-push":
		return "controller (opsmop-push)"
	case comm == "bench.test":
		return "benchmark (floor's client, proxies)"
	case comm == "swapper":
		return "idle"
	}
	return comm
}

// printProcesses prints CPU per host and run for each column, largest
// first; processes under 0.05 ms per host everywhere are left out of the
// rows, not of the totals.
func printProcesses(w io.Writer, hosts, runs int, titles []string, cols []map[string]time.Duration) {
	per := func(d time.Duration) float64 { return ms(d) / float64(hosts*runs) }
	names := map[string]bool{}
	for _, m := range cols {
		for n := range m {
			names[n] = n != "idle"
		}
	}
	totals := make([]float64, len(cols))
	weight := map[string]time.Duration{}
	var rows []string
	for n, counted := range names {
		if !counted {
			continue
		}
		shown := false
		for i, m := range cols {
			totals[i] += per(m[n])
			weight[n] += m[n]
			shown = shown || per(m[n]) >= 0.05
		}
		if shown {
			rows = append(rows, n)
		}
	}
	slices.SortFunc(rows, func(a, b string) int { return int(weight[b] - weight[a]) })
	fmt.Fprintf(w, "\nCPU per host by process, %d hosts, %d runs of each (perf record -a -F %d)\n\n", hosts, runs, perfHz)
	fmt.Fprintf(w, "  %-38s", "process")
	for _, t := range titles {
		fmt.Fprintf(w, " %12s", t)
	}
	fmt.Fprintln(w)
	for _, n := range rows {
		fmt.Fprintf(w, "  %-38s", n)
		for _, m := range cols {
			fmt.Fprintf(w, " %9.1f ms", per(m[n]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %-38s", "all")
	for _, t := range totals {
		fmt.Fprintf(w, " %9.1f ms", t)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-38s", "against the floor")
	for _, t := range totals {
		fmt.Fprintf(w, " %11.2fx", t/totals[0])
	}
	fmt.Fprintln(w)
}
