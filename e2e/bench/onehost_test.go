package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkOneHost measures one host, run after run, with nothing else on
// the machine: the latency a person feels. It compares a warm
// `opsmop-push --check` of the workload (a whole process: start, policy,
// SSH, sudo, worker, resources) with the OpenSSH client running
// `sudo -n true` on the same host, which is what a shell loop over hosts
// would cost. BENCH_REPEAT runs of each (default 20).
func BenchmarkOneHost(b *testing.B) {
	_, _, repeat := mustConfig(b, 1, "0")
	if repeat < 10 {
		repeat = 20
	}
	bd := privateBed(b, 1)
	ctx := context.Background()
	h := bd.hosts[0]
	if r := runOpsmop(ctx, bd, false); r.Err != nil { // cache the worker, apply the workload
		b.Fatal(r.Err)
	}
	addr, port := splitAddr(bd.addrs[0])
	openssh := func() error {
		cmd := exec.CommandContext(ctx, "ssh", "-i", h.KeyPath, "-o", "BatchMode=yes", "-p", strconv.Itoa(port),
			"-o", "UserKnownHostsFile="+filepath.Join(bd.home, ".ssh", "known_hosts"), h.User+"@"+addr, "sudo -n true")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ssh: %v: %s", err, out)
		}
		return nil
	}
	check := func() error { return runOpsmop(ctx, bd, true).Err }
	fmt.Fprintf(os.Stdout, "\none host, %d sequential runs each (wall and machine CPU per run)\n\n", repeat)
	for _, c := range []struct {
		name string
		run  func() error
	}{{"ssh host sudo -n true (OpenSSH client)", openssh}, {"opsmop-push --check (warm)", check}} {
		wall, cpu, err := perRun(repeat, c.run)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "  %-40s wall %6.1f ms   CPU %6.1f ms\n", c.name, ms(wall), ms(cpu))
		b.ReportMetric(ms(wall), c.name[:3]+"-wall-ms")
	}
}

func perRun(n int, run func() error) (wall, cpu time.Duration, err error) {
	busy0, t0 := machineBusy(), time.Now()
	for i := 0; i < n; i++ {
		if err := run(); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(t0) / time.Duration(n), (machineBusy() - busy0) / time.Duration(n), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
