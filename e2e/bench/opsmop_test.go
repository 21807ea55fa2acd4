package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opsmop/opsmop/controller"
)

// result is one timed run of one tool.
type result struct {
	Wall        time.Duration
	Err         error
	Hosts       int
	BytesSent   int64         // all hosts, controller to hosts
	WorkerBytes int64         // of BytesSent, the worker binary
	RoundTrips  int           // all hosts
	Calls       int           // protocol calls, all hosts
	Changed     int           // changed resources, all hosts
	Unreachable int           // hosts
	MaxRSS      int64         // bytes, the controller process
	CPU         time.Duration // the controller process
	MachineCPU  time.Duration // all cores, every process: the whole run's CPU cost
	Phases      phases
}

// phases splits an opsmop run by its JSON events (timestamps from the
// controller's clock, which is this machine's).
type phases struct {
	Startup   time.Duration // exec to run_start: process start, policy load
	Spawn     time.Duration // run_start to the last host_start
	Connect   spread        // per host host_start to role_start: TCP, SSH, sudo, bootstrap, hello+facts
	Resources spread        // per host role_start to host_done
	Teardown  time.Duration // last host_done to process exit
}

// spread is the median and the maximum of per-host durations.
type spread struct{ Median, Max time.Duration }

func spreadOf(ds []time.Duration) spread {
	if len(ds) == 0 {
		return spread{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return spread{Median: s[len(s)/2], Max: s[len(s)-1]}
}

// runOpsmop runs opsmop-push --apply or --check with --json on the bed's
// policy and measures it. A failed host makes the run an error.
func runOpsmop(ctx context.Context, bd *bed, check bool) result {
	return runOpsmopForks(ctx, bd, check, len(bd.hosts))
}

// runOpsmopForks is runOpsmop with at most forks hosts in flight.
func runOpsmopForks(ctx context.Context, bd *bed, check bool, forks int) result {
	mode := "--apply"
	if check {
		mode = "--check"
	}
	cmd := exec.CommandContext(ctx, bd.bin, mode, "--json", "--forks", strconv.Itoa(forks), filepath.Join(bd.dir, "policy.star"))
	cmd.Dir = bd.dir
	cmd.Env = append(cleanEnv(), "HOME="+bd.home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{Err: err}
	}
	busy0 := machineBusy()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{Err: fmt.Errorf("start opsmop-push: %w", err)}
	}
	ev, perr := readEvents(out)
	werr := cmd.Wait()
	end := time.Now()
	r := ev.result(start, end)
	r.Wall = end.Sub(start)
	r.MachineCPU = machineBusy() - busy0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss * 1024
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// The summary says most about a failure, so it goes first.
	switch {
	case ev.summary != nil && ev.summary.Failed():
		r.Err = fmt.Errorf("opsmop-push %s: %d failed hosts %.200v, %d unreachable %.200v: %s", mode,
			len(ev.summary.FailedHosts()), ev.summary.FailedHosts(), len(ev.summary.UnreachableHosts()),
			ev.summary.UnreachableHosts(), firstError(ev.summary))
	case werr != nil:
		r.Err = fmt.Errorf("opsmop-push %s: %w: %s", mode, werr, lastLines(stderr.String(), 5))
	case perr != nil:
		r.Err = perr
	case ev.summary == nil:
		r.Err = fmt.Errorf("opsmop-push %s: no run_done event", mode)
	}
	return r
}

// cleanEnv is the environment without an ssh-agent, so both tools
// authenticate with the inventory's key files only.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// events is what a run's JSON stream says about timing and totals.
type events struct {
	runStart  time.Time
	hostStart map[string]time.Time
	roleStart map[string]time.Time
	hostDone  map[string]time.Time
	summary   *controller.Summary
}

// readEvents decodes one JSON event per line; other lines are ignored.
func readEvents(r io.Reader) (*events, error) {
	ev := &events{hostStart: map[string]time.Time{}, roleStart: map[string]time.Time{}, hostDone: map[string]time.Time{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e controller.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return ev, fmt.Errorf("decode event %.80q: %w", line, err)
		}
		ev.add(e)
	}
	return ev, sc.Err()
}

func (ev *events) add(e controller.Event) {
	switch e.Kind {
	case controller.EvRunStart:
		ev.runStart = e.Time
	case controller.EvHostStart:
		if _, ok := ev.hostStart[e.Host]; !ok {
			ev.hostStart[e.Host] = e.Time
		}
	case controller.EvRoleStart:
		if _, ok := ev.roleStart[e.Host]; !ok {
			ev.roleStart[e.Host] = e.Time
		}
	case controller.EvHostDone, controller.EvUnreachabl:
		ev.hostDone[e.Host] = e.Time
	case controller.EvRunDone:
		ev.summary = e.Summary
	}
}

// result totals the summary and splits the run into phases.
func (ev *events) result(start, end time.Time) result {
	var r result
	if s := ev.summary; s != nil {
		r.Hosts = len(s.Hosts)
		for _, h := range s.Hosts {
			r.BytesSent += h.BytesSent
			r.WorkerBytes += h.WorkerBytes
			r.RoundTrips += h.RoundTrips
			r.Calls += h.Calls
			r.Changed += h.Changed
			if h.Unreachable {
				r.Unreachable++
			}
		}
	}
	if ev.runStart.IsZero() {
		return r
	}
	r.Phases.Startup = ev.runStart.Sub(start)
	var lastStart, lastDone time.Time
	var conn, res []time.Duration
	for host, t := range ev.hostStart {
		if t.After(lastStart) {
			lastStart = t
		}
		if rs, ok := ev.roleStart[host]; ok {
			conn = append(conn, rs.Sub(t))
			if d, ok := ev.hostDone[host]; ok {
				res = append(res, d.Sub(rs))
			}
		}
	}
	for _, t := range ev.hostDone {
		if t.After(lastDone) {
			lastDone = t
		}
	}
	if !lastStart.IsZero() {
		r.Phases.Spawn = lastStart.Sub(ev.runStart)
	}
	if !lastDone.IsZero() {
		r.Phases.Teardown = end.Sub(lastDone)
	}
	r.Phases.Connect, r.Phases.Resources = spreadOf(conn), spreadOf(res)
	return r
}

func firstError(s *controller.Summary) string {
	for _, h := range s.Hosts {
		if h.Error != "" {
			return h.Name + ": " + h.Error
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
