package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsmop/opsmop/e2e/fleet"
)

// End-to-end tests of push mode: the real opsmop-push binary against a
// fleet of real sshd hosts in network namespaces, with real sudo. Each test
// function has a fleet of its own. Figures (durations, bytes) are logged
// with -v; nothing here asserts on time.

// bigFile writes a 10 MiB file of pseudo-random bytes into the policy
// folder and returns its sha256.
func (e *pushEnv) bigFile(rel string) string {
	e.t.Helper()
	b := make([]byte, 10<<20)
	r := rand.NewChaCha8([32]byte{'o', 'p', 's', 'm', 'o', 'p'})
	r.Read(b)
	e.writePolicyFile(rel, string(b))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestPushCheckApplyReapply covers check, apply and a second apply on three
// hosts, one of which needs a sudo password: check touches nothing; apply
// writes content, a rendered template (host vars beat group vars) and a
// byte-exact 10 MiB file as root and runs the handler once; a second apply
// changes nothing.
func TestPushCheckApplyReapply(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 3, SudoPassword: map[int]string{1: "sudo-pw-1"}, SudoLog: true})
	bigSum := e.bigFile("files/big.bin")
	e.writePolicyFile("inv.toml", e.inventory(`
[groups.web.vars]
colour = "group-colour"
tier = "group-tier"

[hosts.host0.vars]
colour = "host-colour"
`))

	check := e.push("--check", "site.star")
	check.logSummary(t, "check")
	check.mustExit(t, 0)
	if !check.Summary.Check {
		t.Errorf("check run: summary says check=false")
	}
	for _, h := range e.f.Hosts {
		if got := check.host(t, h.Name); got.Changed == 0 {
			t.Errorf("%s: check reports nothing to change on an empty host: %+v", h.Name, got)
		}
		if ents := hostDirEntries(t, h); len(ents) != 0 {
			t.Errorf("%s: check changed the host: %s holds %v", h.Name, h.Dir(), ents)
		}
	}

	apply := e.push("--apply", "site.star")
	apply.logSummary(t, "apply")
	apply.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		t.Run("apply/"+h.Name, func(t *testing.T) {
			if got := apply.host(t, h.Name); got.Changed == 0 || got.Failed != 0 {
				t.Errorf("summary: %+v, want changes and no failures", got)
			}
			if got, want := readHostFile(t, h, "hello"), "hi "+h.Name+"\n"; got != want {
				t.Errorf("hello = %q, want %q", got, want)
			}
			colour := "group-colour"
			if h.Name == "host0" {
				colour = "host-colour"
			}
			want := fmt.Sprintf("host=%s\ncolour=%s\ntier=group-tier\n", h.Name, colour)
			if got := readHostFile(t, h, "vars"); got != want {
				t.Errorf("template vars = %q, want %q", got, want)
			}
			out, err := e.f.Exec(h, "sha256sum", filepath.Join(h.Dir(), "big.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if got, _, _ := strings.Cut(string(out), " "); got != bigSum {
				t.Errorf("big.bin sha256 %s, want %s", got, bigSum)
			}
			if owner := e.fileOwner(h, filepath.Join(h.Dir(), "hello")); owner != "0" {
				t.Errorf("hello is owned by uid %s, want 0: the worker did not run under sudo", owner)
			}
			// Two resources signalled "note": the handler runs once.
			if got := readHostFile(t, h, "handler.log"); got != "fired\n" {
				t.Errorf("handler.log = %q, want the handler to have run exactly once", got)
			}
			if n := apply.count("handler", h.Name); n != 1 {
				t.Errorf("%d handler events, want 1", n)
			}
			if got := readHostFile(t, h, "guarded.log"); got != "ran\n" {
				t.Errorf("guarded.log = %q, want one run", got)
			}
		})
	}

	again := e.push("--apply", "site.star")
	again.logSummary(t, "second apply")
	again.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		got := again.host(t, h.Name)
		if got.Changed != 0 || got.Failed != 0 {
			t.Errorf("%s: second apply: %+v, want nothing changed", h.Name, got)
		}
		if got := readHostFile(t, h, "handler.log"); got != "fired\n" {
			t.Errorf("%s: handler.log = %q after the second apply, want the handler not to run again", h.Name, got)
		}
		if got := readHostFile(t, h, "guarded.log"); got != "ran\n" {
			t.Errorf("%s: guarded.log = %q after the second apply, want the guarded command not to run", h.Name, got)
		}
		checkSudoLog(t, h, 3)
	}
}

// checkSudoLog checks what sudo logged of the worker's starts on h: at
// least runs of them, each a short command, never the bootstrap script
// (which syslog would carry in three lines of 960 bytes per run).
func checkSudoLog(t *testing.T, h *fleet.Host, runs int) {
	t.Helper()
	b, err := os.ReadFile(h.SudoLog)
	if err != nil {
		t.Fatalf("%s: sudo log: %v", h.Name, err)
	}
	starts := 0
	for _, line := range strings.Split(string(b), "\n") {
		_, cmd, ok := strings.Cut(line, "COMMAND=")
		if !ok {
			continue
		}
		if strings.Contains(cmd, "OPSMOP-NEED") || len(cmd) > 120 {
			t.Errorf("%s: sudo logged a long command (%d bytes): %.200s", h.Name, len(cmd), cmd)
		}
		if strings.HasSuffix(cmd, "/sh -s") || strings.Contains(cmd, "OPSMOP-SCRIPT") {
			starts++
		}
	}
	if starts < runs {
		t.Errorf("%s: sudo logged %d worker starts, want at least %d:\n%s", h.Name, starts, runs, b)
	}
}

// TestPushWorkerBytes checks the self-copying worker: the first run on a
// host sends the binary, the second sends none and starts it in one round
// trip. The role runs without sudo so the cache is in the login user's home,
// which is new with every fleet (root's cache is shared by all fleets).
func TestPushWorkerBytes(t *testing.T) {
	lean := mustRead(t, filepath.Join(filepath.Dir(opsmopBinary(t)), "opsmop-worker"))
	leanSum := fmt.Sprintf("%x", sha256.Sum256(lean))
	e := newPushEnv(t, fleet.Options{Hosts: 2})
	e.writePolicyFile("inv.toml", e.inventory(""))

	cold := e.push("--apply", "nosudo.star")
	cold.logSummary(t, "cold apply")
	cold.mustExit(t, 0)
	warm := e.push("--apply", "nosudo.star")
	warm.logSummary(t, "warm apply")
	warm.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		c, w := cold.host(t, h.Name), warm.host(t, h.Name)
		if c.WorkerBytes == 0 {
			t.Errorf("%s: cold run sent no worker bytes: %+v", h.Name, c)
		}
		if c.BytesSent < c.WorkerBytes {
			t.Errorf("%s: cold run: bytes_sent %d < worker_bytes %d", h.Name, c.BytesSent, c.WorkerBytes)
		}
		if w.WorkerBytes != 0 {
			t.Errorf("%s: warm run sent %d worker bytes, want 0", h.Name, w.WorkerBytes)
		}
		if w.RoundTrips != 1 {
			t.Errorf("%s: warm run took %d round trips to start the worker, want 1", h.Name, w.RoundTrips)
		}
		if c.RoundTrips <= w.RoundTrips {
			t.Errorf("%s: cold run %d round trips, warm %d: want the cold one to need more", h.Name, c.RoundTrips, w.RoundTrips)
		}
		if got, want := string(mustRead(t, filepath.Join(h.Home, "hello"))), "hi "+h.Name+"\n"; got != want {
			t.Errorf("%s: hello = %q, want %q", h.Name, got, want)
		}
		// The cached binary is in the user's home, mode 0700 directory.
		out, err := e.f.Exec(h, "stat", "-c", "%a %U", filepath.Join(h.Home, ".cache/opsmop"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(string(out)), "700 "+h.User; got != want {
			t.Errorf("%s: worker cache dir is %q, want %q", h.Name, got, want)
		}
		// What the host caches and runs is the worker-only build that
		// make build puts beside opsmop, not the controller.
		cached := filepath.Join(h.Home, ".cache/opsmop", "opsmop-"+leanSum)
		if got := mustRead(t, cached); !bytes.Equal(got, lean) {
			t.Errorf("%s: %s is not bin/opsmop-worker (%d bytes, want %d)", h.Name, cached, len(got), len(lean))
		}
	}
}

// TestPushMagicVariablesAndDefaults reaches host0 through a port forward
// (opsmop_host + opsmop_port) with its user, key and sudo password from
// HOME/.opsmop/defaults.toml, and host1 with everything from its magic
// variables, which must beat the defaults file.
func TestPushMagicVariablesAndDefaults(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 2, SudoPassword: map[int]string{0: "pw-defaults", 1: "pw-inventory"}})
	h0, h1 := e.f.Hosts[0], e.f.Hosts[1]
	port, conns := portProxy(t, h0.HostPort())
	e.writeHome(".ssh/known_hosts", string(mustRead(t, e.f.KnownHosts))+
		knownHostsLine(t, h0, fmt.Sprintf("127.0.0.1:%d", port)))
	e.writeHome(".opsmop/defaults.toml", fmt.Sprintf(`
[ssh]
username = %q
identity_files = [%q]

[sudo]
password = "pw-defaults"
`, h0.User, h0.KeyPath))
	e.writePolicyFile("inv.toml", fmt.Sprintf(`
[groups.web.hosts]
host0 = "opsmop_host=127.0.0.1 root=%s"
host1 = %q

[hosts.host0.vars]
opsmop_port = %d
`, h0.Dir(), conn(h1), port))

	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply")
	r.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		if got, want := readHostFile(t, h, "hello"), "hi "+h.Name+"\n"; got != want {
			t.Errorf("%s: hello = %q, want %q", h.Name, got, want)
		}
		if owner := e.fileOwner(h, filepath.Join(h.Dir(), "hello")); owner != "0" {
			t.Errorf("%s: hello owned by uid %s, want 0 (sudo)", h.Name, owner)
		}
	}
	// host0 was reached only through the forwarded port.
	if n := conns.Load(); n == 0 {
		t.Errorf("host0: no connection came through 127.0.0.1:%d: opsmop_port was not used", port)
	}
}

// TestPushHostKeyChanged rotates one host's key: that host is refused with
// a message that says the key changed, the others are applied.
func TestPushHostKeyChanged(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 3})
	e.writePolicyFile("inv.toml", e.inventory(""))
	bad := e.f.Hosts[1]
	if err := e.f.RotateHostKey(bad); err != nil {
		t.Fatal(err)
	}
	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply with host1's key rotated")
	r.mustExit(t, 4)
	got := r.host(t, bad.Name)
	if !got.Unreachable || !strings.Contains(got.Error, "HOST KEY CHANGED") || !strings.Contains(got.Error, bad.Name) {
		t.Errorf("%s: summary %+v, want unreachable with an error naming the host and saying HOST KEY CHANGED", bad.Name, got)
	}
	if !strings.Contains(r.Stderr+r.Stdout, "HOST KEY CHANGED") {
		t.Errorf("the output never says the host key changed:\n%s", r.Stderr)
	}
	if ents := hostDirEntries(t, bad); len(ents) != 0 {
		t.Errorf("%s: changed despite its changed host key: %v", bad.Name, ents)
	}
	for _, h := range []*fleet.Host{e.f.Hosts[0], e.f.Hosts[2]} {
		if got := readHostFile(t, h, "hello"); got != "hi "+h.Name+"\n" {
			t.Errorf("%s: hello = %q; the good hosts must be applied", h.Name, got)
		}
	}
}

// TestPushWrongSudoPassword gives host1 a wrong sudo password: it fails
// quickly with an error naming the host and saying the password is wrong;
// host0 is applied.
func TestPushWrongSudoPassword(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 2, SudoPassword: map[int]string{1: "right-pw"}})
	inv := e.inventory("")
	wrong := strings.Replace(inv, "opsmop_sudo_password=right-pw", "opsmop_sudo_password=wrong-pw", 1)
	if wrong == inv {
		t.Fatalf("inventory has no sudo password to replace:\n%s", inv)
	}
	e.writePolicyFile("inv.toml", wrong)

	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply with a wrong sudo password on host1")
	r.mustExit(t, 2) // a host that refused us is a failure, not unreachable
	got := r.host(t, "host1")
	t.Logf("host1 failed after %v: %s", got.Duration.Round(time.Millisecond), got.Error)
	if !strings.Contains(got.Error, "host1") || !strings.Contains(got.Error, "wrong password") {
		t.Errorf("host1 error %q, want it to name host1 and say wrong password", got.Error)
	}
	if strings.Contains(r.Stdout+r.Stderr, "wrong-pw") || strings.Contains(r.Stdout+r.Stderr, "right-pw") {
		t.Errorf("a password appears in the output")
	}
	if ents := hostDirEntries(t, e.f.Hosts[1]); len(ents) != 0 {
		t.Errorf("host1 changed: %v", ents)
	}
	if got := readHostFile(t, e.f.Hosts[0], "hello"); got != "hi host0\n" {
		t.Errorf("host0: hello = %q; it must be applied", got)
	}
}

// TestPushUnreachable stops one host: it is reported unreachable (exit 4)
// while the others are applied; with a failing resource on another host
// the exit code is 2.
func TestPushUnreachable(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 3})
	down := e.f.Hosts[1]
	if err := e.f.StopHost(down); err != nil {
		t.Fatal(err)
	}
	e.writePolicyFile("inv.toml", e.inventory(`
[groups.web.vars]
should_fail = "no"
`))
	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply with host1 down")
	r.mustExit(t, 4)
	if got := r.host(t, down.Name); !got.Unreachable || got.Error == "" {
		t.Errorf("%s: %+v, want unreachable with an error", down.Name, got)
	}
	for _, h := range []*fleet.Host{e.f.Hosts[0], e.f.Hosts[2]} {
		if got := r.host(t, h.Name); got.Unreachable || got.Changed != 1 {
			t.Errorf("%s: %+v, want reachable with one change", h.Name, got)
		}
		if got := readHostFile(t, h, "hello"); got != "hi "+h.Name+"\n" {
			t.Errorf("%s: hello = %q", h.Name, got)
		}
	}
	if !strings.Contains(r.Stderr+r.Stdout, down.Name) {
		t.Errorf("output never names the unreachable host")
	}

	e.writePolicyFile("inv.toml", e.inventory(`
[groups.web.vars]
should_fail = "no"

[hosts.host2.vars]
should_fail = "yes"
`))
	r = e.push("--apply", "fail.star")
	r.logSummary(t, "apply with host1 down and host2 failing")
	r.mustExit(t, 2)
	if got := r.host(t, "host2"); got.Failed == 0 {
		t.Errorf("host2: %+v, want a failed resource", got)
	}
	if got := r.host(t, down.Name); !got.Unreachable {
		t.Errorf("%s: %+v, want unreachable", down.Name, got)
	}
	if got := r.host(t, "host0"); got.Failed != 0 || got.Unreachable {
		t.Errorf("host0: %+v, want success", got)
	}
}

// TestPushKillController kills opsmop-push (SIGKILL, then SIGINT) while a
// long command runs on every host: no worker process and no command may be
// left on any host. SIGSTOP freezes it instead, as a controller machine
// that hangs or drops off the network: its connections stay open and the
// hosts' sshd cannot tell, so the workers must notice from their own pings
// (every opsmop_ssh_keepalive, here 1 s; three unanswered end them).
func TestPushKillController(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 2, SudoPassword: map[int]string{1: "pw"}})
	e.writePolicyFile("inv.toml", e.inventory("\n[groups.web.vars]\nopsmop_ssh_keepalive = 1\n"))
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) {
			for _, h := range e.f.Hosts {
				if err := removeIfExists(filepath.Join(h.Dir(), "sleep.pid")); err != nil {
					t.Fatal(err)
				}
			}
			e.killMidRun(t, sig)
		})
	}
}

func (e *pushEnv) killMidRun(t *testing.T, sig syscall.Signal) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "--apply", "sleep.star")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the command runs on every host: its output line arrives.
	sleeping := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for len(sleeping) < len(e.f.Hosts) && sc.Scan() {
		var ev pushEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Kind == "output" && strings.Contains(ev.Line, "sleeping") {
			sleeping[ev.Host] = true
		}
	}
	if len(sleeping) < len(e.f.Hosts) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the run ended before the command ran on every host (%v); stderr:\n%s", sleeping, stderr.String())
	}
	t.Logf("command running on every host after %v; sending %v", time.Since(start).Round(time.Millisecond), sig)
	pids := map[*fleet.Host]string{}
	for _, h := range e.f.Hosts {
		pids[h] = strings.TrimSpace(readHostFile(t, h, "sleep.pid"))
		if pids[h] == "" {
			t.Fatalf("%s: no sleep.pid", h.Name)
		}
		if procs := e.workerProcs(h, "opsmop-.* worker"); len(procs) == 0 {
			t.Fatalf("%s: no worker process found while the command runs: the probe cannot see workers", h.Name)
		}
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	done := make(chan error, 1)
	go func() {
		for sc.Scan() { // drain, so the controller never blocks on a full pipe
		}
		done <- cmd.Wait()
	}()
	// Poll from the signal on: the workers and their commands must go
	// within 10 s, whether or not the controller has exited yet.
	for _, h := range e.f.Hosts {
		var procs []string
		alive := false
		for deadline := signalled.Add(10 * time.Second); ; {
			procs = e.workerProcs(h, "opsmop-.* worker")
			_, perr := e.f.Exec(h, "kill", "-0", pids[h])
			alive = perr == nil
			if (len(procs) == 0 && !alive) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(procs) != 0 {
			t.Errorf("%s: worker processes left 10s after %v:\n%s", h.Name, sig, strings.Join(procs, "\n"))
		}
		if alive {
			t.Errorf("%s: the command (pid %s) still runs 10s after %v", h.Name, pids[h], sig)
		}
		if len(procs) == 0 && !alive {
			t.Logf("%s: no worker, no command %v after %v", h.Name, time.Since(signalled).Round(time.Millisecond), sig)
		}
	}
	if sig == syscall.SIGSTOP {
		// Thawed, it finds its workers gone and fails the hosts.
		if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	var werr error
	select {
	case werr = <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		werr = <-done
		t.Errorf("opsmop-push still ran 20s after %v", sig)
	}
	t.Logf("controller ended %v after %v: %v; stderr: %s", time.Since(signalled).Round(time.Millisecond), sig, werr, strings.TrimSpace(stderr.String()))
	wantCode := map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGSTOP: 2}
	if want, ok := wantCode[sig]; ok {
		if code := cmd.ProcessState.ExitCode(); code != want {
			t.Errorf("exit code %d after %v, want %d", code, sig, want)
		}
	}
	for _, h := range e.f.Hosts { // never leave a command behind for the next case
		e.f.Exec(h, "kill", pids[h])
	}
}

// TestPushRequireTTY runs on hosts whose sudoers says requiretty, with
// NOPASSWD and with a password.
func TestPushRequireTTY(t *testing.T) {
	e := newPushEnv(t, fleet.Options{
		Hosts:        2,
		SudoPassword: map[int]string{1: "tty-pw"},
		RequireTTY:   map[int]bool{0: true, 1: true},
	})
	e.writePolicyFile("inv.toml", e.inventory(""))
	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply on requiretty hosts")
	r.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		if got := readHostFile(t, h, "hello"); got != "hi "+h.Name+"\n" {
			t.Errorf("%s: hello = %q", h.Name, got)
		}
		if owner := e.fileOwner(h, filepath.Join(h.Dir(), "hello")); owner != "0" {
			t.Errorf("%s: hello owned by uid %s, want 0 (sudo)", h.Name, owner)
		}
	}
	again := e.push("--apply", "simple.star")
	again.logSummary(t, "second apply on requiretty hosts")
	again.mustExit(t, 0)
	for _, h := range e.f.Hosts {
		if got := again.host(t, h.Name); got.Changed != 0 {
			t.Errorf("%s: second apply changed %d", h.Name, got.Changed)
		}
	}
}

// TestPushLimitHostsAndForks narrows a run with --limit-hosts, then runs
// every host with --forks 1.
func TestPushLimitHostsAndForks(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 3})
	e.writePolicyFile("inv.toml", e.inventory(""))

	r := e.push("--apply", "--limit-hosts", "host1", "simple.star")
	r.logSummary(t, "apply --limit-hosts host1")
	r.mustExit(t, 0)
	if len(r.Summary.Hosts) != 1 || r.Summary.Hosts[0].Name != "host1" {
		t.Errorf("summary hosts %+v, want only host1", r.Summary.Hosts)
	}
	for _, h := range e.f.Hosts {
		got, want := readHostFile(t, h, "hello"), ""
		if h.Name == "host1" {
			want = "hi host1\n"
		}
		if got != want {
			t.Errorf("%s: hello = %q, want %q", h.Name, got, want)
		}
	}

	r = e.push("--apply", "--forks", "1", "simple.star")
	r.logSummary(t, "apply --forks 1")
	r.mustExit(t, 0)
	if len(r.Summary.Hosts) != 3 {
		t.Errorf("summary has %d hosts, want 3", len(r.Summary.Hosts))
	}
	for _, h := range e.f.Hosts {
		if got := readHostFile(t, h, "hello"); got != "hi "+h.Name+"\n" {
			t.Errorf("%s: hello = %q", h.Name, got)
		}
		wantChanged := 1
		if h.Name == "host1" {
			wantChanged = 0
		}
		if got := r.host(t, h.Name); got.Changed != wantChanged {
			t.Errorf("%s: changed %d, want %d", h.Name, got.Changed, wantChanged)
		}
	}
}

// TestPushLocalConnection mixes an SSH host with one whose inventory says
// opsmop_connection=local: that one runs its worker as a child process of
// the controller, without SSH, and both are applied.
func TestPushLocalConnection(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 1})
	localRoot := t.TempDir()
	extra := fmt.Sprintf("here = %q\n", "opsmop_connection=local root="+localRoot)
	inv := strings.Replace(e.inventory(""), "[groups.web.hosts]\n", "[groups.web.hosts]\n"+extra, 1)
	e.writePolicyFile("inv.toml", inv)

	r := e.push("--apply", "simple.star")
	r.logSummary(t, "apply to an SSH host and a local one")
	r.mustExit(t, 0)
	if got := readFileOr(t, filepath.Join(localRoot, "hello")); got != "hi here\n" {
		t.Errorf("local host: hello = %q", got)
	}
	if got := readHostFile(t, e.f.Hosts[0], "hello"); got != "hi host0\n" {
		t.Errorf("host0: hello = %q", got)
	}
	// "here" resolves to no address and runs no sshd: applied at all, it
	// was reached without SSH, and the local worker is never uploaded.
	if h := r.host(t, "here"); h.WorkerBytes != 0 {
		t.Errorf("local host was sent a worker: %+v", h)
	}
}

func readFileOr(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// TestPushSudoAsUserWithoutHome runs the worker as nobody: its cache falls
// back to a directory of its own under /tmp, and the command runs as nobody.
func TestPushSudoAsUserWithoutHome(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 1})
	t.Cleanup(func() { os.RemoveAll("/tmp/opsmop-65534") }) // nobody's fallback cache
	e.writePolicyFile("inv.toml", e.inventory(""))
	r := e.push("--apply", "nobody.star")
	r.logSummary(t, "apply as nobody")
	r.mustExit(t, 0)
	var said []string
	for _, ev := range r.Events {
		if ev.Kind == "output" {
			said = append(said, ev.Line)
		}
	}
	if !slices.Equal(said, []string{"nobody"}) {
		t.Fatalf("command output %q, want nobody", said)
	}
}
