package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// secs formats a duration as seconds with millisecond precision.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// mib formats a byte count in MiB, or KiB below one MiB.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func kib(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

func rttName(rtt time.Duration) string {
	if rtt == 0 {
		return "0 ms"
	}
	return fmt.Sprintf("%d ms", rtt.Milliseconds())
}

// printPushTable prints issue 4's table: per case wall time, bytes and
// round trips (all hosts together), the controller's RSS and CPU time.
func printPushTable(w io.Writer, hosts int, rtt time.Duration, repeat int, fl floorResult, runs map[string][]result) {
	fmt.Fprintf(w, "\nopsmop-push, %d hosts, RTT %s (median of %d runs; bytes and round trips summed over hosts)\n\n", hosts, rttName(rtt), repeat)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "case\twall\t/floor\tbytes sent\tworker bytes\tround trips\tcalls\tchanged\tmax RSS\tCPU\t")
	fmt.Fprintf(tw, "floor (sudo -n true)\t%s\t1.00\t\t\t\t\t\t\t\t\n", secs(fl.Wall))
	for _, c := range cases {
		r := median(runs[c])
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\t\t\t\n", c)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t\n", c, secs(r.Wall), ratio(r.Wall, fl.Wall),
			mib(r.BytesSent), mib(r.WorkerBytes), r.RoundTrips, r.Calls, r.Changed, mib(r.MaxRSS), secs(r.CPU))
	}
	tw.Flush()
}

// printPhases prints where an opsmop run's time goes, beside the floor's
// own split.
func printPhases(w io.Writer, rtt time.Duration, fl, probe floorResult, runs map[string][]result) {
	fmt.Fprintf(w, "\nwhere the time goes, RTT %s (median run; per-host figures as median / max)\n\n", rttName(rtt))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "case\twall\tstartup\tspawn\tconnect+boot\tresources\tteardown\tcontroller CPU\tmachine CPU\t")
	fmt.Fprintf(tw, "floor: sudo -n true\t%s\t\t\tssh %s\texec %s\t\t\t%s\t\n", secs(fl.Wall), spreadStr(fl.Connect), spreadStr(fl.Exec), secs(fl.MachineCPU))
	fmt.Fprintf(tw, "probe: sudo -n worker facts\t%s\t\t\tssh %s\texec %s\t\t\t%s\t\n", secs(probe.Wall), spreadStr(probe.Connect), spreadStr(probe.Exec), secs(probe.MachineCPU))
	for _, c := range cases {
		r := median(runs[c])
		if r.Err != nil {
			continue
		}
		p := r.Phases
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c, secs(r.Wall), secs(p.Startup), secs(p.Spawn),
			spreadStr(p.Connect), spreadStr(p.Resources), secs(p.Teardown), secs(r.CPU), secs(r.MachineCPU))
	}
	tw.Flush()
}

func spreadStr(s spread) string {
	return fmt.Sprintf("%.3f / %.3f", s.Median.Seconds(), s.Max.Seconds())
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// vsRow is one RTT of the side-by-side benchmark.
type vsRow struct {
	rtt             time.Duration
	floor           floorResult
	opsmop, ansible map[string][]result
}

// targets are issue 5's: opsmop within 2x the floor for a cold apply and
// 1.5x for a check of the applied state.
var targets = map[string]float64{caseCold: 2, caseCheck: 1.5}

// printVsTable prints issue 5's table.
func printVsTable(w io.Writer, hosts, repeat, arepeat int, rows []vsRow) {
	fmt.Fprintf(w, "\nopsmop vs Ansible, %d hosts (opsmop: median of %d, Ansible: median of %d, floor: median of %d, before and between opsmop's rounds;\nCPU: busy time of all cores during the run, every process on the machine)\n\n", hosts, repeat, arepeat, floorRuns+repeat)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "RTT\tcase\tfloor\topsmop\tansible\topsmop/floor\tansible/floor\tansible/opsmop\ttarget\tCPU floor\tCPU opsmop\tCPU ansible\t")
	for _, row := range rows {
		for _, c := range cases {
			o, a := median(row.opsmop[c]), median(row.ansible[c])
			target := ""
			if t, ok := targets[c]; ok && o.Err == nil {
				met := "met"
				if ratio(o.Wall, row.floor.Wall) > t {
					met = "MISSED"
				}
				target = fmt.Sprintf("<= %.1fx %s", t, met)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rttName(row.rtt), c, secs(row.floor.Wall),
				wallOr(o), wallOr(a), ratioOr(o, row.floor.Wall), ratioOr(a, row.floor.Wall), ratioAB(a, o), target,
				secs(row.floor.MachineCPU), secs(o.MachineCPU), secs(a.MachineCPU))
		}
	}
	tw.Flush()
	for _, row := range rows {
		for _, c := range cases {
			if a := median(row.ansible[c]); a.Err != nil {
				fmt.Fprintf(w, "ansible %s at RTT %s: %v\n", c, rttName(row.rtt), firstLine(a.Err.Error()))
			}
		}
	}
}

func wallOr(r result) string {
	if r.Err != nil {
		if strings.Contains(r.Err.Error(), "timed out") {
			return "timeout"
		}
		return "failed"
	}
	return secs(r.Wall)
}

func ratioOr(r result, floor time.Duration) string {
	if r.Err != nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", ratio(r.Wall, floor))
}

func ratioAB(a, o result) string {
	if a.Err != nil || o.Err != nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", ratio(a.Wall, o.Wall))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// scaleRow is one run of the scale benchmark.
type scaleRow struct {
	hosts int
	what  string
	r     result
}

// printScaleTable prints memory by inventory size and the per-host slope
// between the smallest and the largest warm check.
func printScaleTable(w io.Writer, rows []scaleRow) {
	fmt.Fprintf(w, "\nopsmop-push memory (max RSS of the controller process, from wait4)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "hosts\trun\twall\tmax RSS\tRSS/host\tCPU\tconnect+boot\tround trips\tfailed\t")
	var checks []scaleRow
	for _, s := range rows {
		failed := "none"
		if s.r.Err != nil {
			failed = fmt.Sprintf("%d unreachable", s.r.Unreachable)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", s.hosts, s.what, secs(s.r.Wall), mib(s.r.MaxRSS),
			kib(s.r.MaxRSS/int64(s.hosts)), secs(s.r.CPU), spreadStr(s.r.Phases.Connect), s.r.RoundTrips, failed)
		if s.what == "warm check" {
			checks = append(checks, s)
		}
	}
	tw.Flush()
	if len(checks) >= 2 {
		lo, hi := checks[0], checks[len(checks)-1]
		per := float64(hi.r.MaxRSS-lo.r.MaxRSS) / float64(hi.hosts-lo.hosts)
		fmt.Fprintf(w, "\nmarginal memory per connected host (warm check, %d to %d hosts): %.0f KiB\n", lo.hosts, hi.hosts, per/1024)
	}
}
