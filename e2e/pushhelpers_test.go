package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsmop/opsmop/e2e/fleet"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// pushBinary returns the "opsmop-push" symlink `make build` puts beside
// the binary under test: the binary picks its command line by the name it
// was started under.
func pushBinary(t testing.TB) string {
	t.Helper()
	link := filepath.Join(filepath.Dir(opsmopBinary(t)), "opsmop-push")
	if _, err := os.Stat(link); err != nil {
		t.Fatalf("opsmop-push: %v", err)
	}
	return link
}

// pushEnv is one test's fleet, the controller's HOME (with a known_hosts
// holding the fleet's host keys) and a policy folder: a copy of
// testdata/push to which a test adds its inventory.
type pushEnv struct {
	t    *testing.T
	f    *fleet.Fleet
	bin  string
	home string // HOME of opsmop-push
	dir  string // the policy folder
}

func newPushEnv(t *testing.T, opts fleet.Options) *pushEnv {
	t.Helper()
	fleet.Require(t)
	bin := pushBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	f, err := fleet.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start fleet: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fleet: %v", err)
		}
	})
	t.Logf("fleet %s: %d hosts up in %v", f.Name, len(f.Hosts), time.Since(start).Round(time.Millisecond))
	e := &pushEnv{t: t, f: f, bin: bin, home: t.TempDir(), dir: t.TempDir()}
	kh, err := os.ReadFile(f.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	e.writeHome(".ssh/known_hosts", string(kh))
	if err := copyTree("testdata/push", e.dir); err != nil {
		t.Fatalf("copy policies: %v", err)
	}
	return e
}

// copyTree copies the regular files below src into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func writeFileAll(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// writeHome writes a file below the controller's HOME.
func (e *pushEnv) writeHome(rel, content string) {
	writeFileAll(e.t, filepath.Join(e.home, rel), content, 0o600)
}

// writePolicyFile writes a file into the policy folder.
func (e *pushEnv) writePolicyFile(rel, content string) {
	writeFileAll(e.t, filepath.Join(e.dir, rel), content, 0o644)
}

// conn is the inventory host string that reaches h entirely through magic
// variables, plus the scratch directories as variables root and home.
func conn(h *fleet.Host) string {
	s := fmt.Sprintf("opsmop_host=%s opsmop_ssh_username=%s opsmop_identity_file=%s root=%s home=%s",
		h.Addr, h.User, h.KeyPath, h.Dir(), h.Home)
	if h.SudoPassword != "" {
		s += " opsmop_sudo_password=" + h.SudoPassword
	}
	return s
}

// inventory is an inventory with every host of the fleet in group "web",
// reached through conn; extra is appended to the file.
func (e *pushEnv) inventory(extra string) string {
	var b strings.Builder
	b.WriteString("[groups.web.hosts]\n")
	for _, h := range e.f.Hosts {
		fmt.Fprintf(&b, "%s = %q\n", h.Name, conn(h))
	}
	b.WriteString(extra)
	return b.String()
}

// pushEvent is one line of --json output, decoded the way a CI system
// would: only the fields the tests look at.
type pushEvent struct {
	Kind    string        `json:"event"`
	Host    string        `json:"host"`
	Status  string        `json:"status"`
	Stream  string        `json:"stream"`
	Line    string        `json:"line"`
	Error   string        `json:"error"`
	Check   bool          `json:"check"`
	Summary *pushSummary  `json:"summary"`
	Stats   *pushHostStat `json:"stats"`
}

type pushSummary struct {
	Check   bool           `json:"check"`
	Hosts   []pushHostStat `json:"hosts"`
	Elapsed time.Duration  `json:"elapsed_ns"`
}

type pushHostStat struct {
	Name        string        `json:"host"`
	OK          int           `json:"ok"`
	Changed     int           `json:"changed"`
	Failed      int           `json:"failed"`
	Unreachable bool          `json:"unreachable"`
	Error       string        `json:"error"`
	Duration    time.Duration `json:"duration_ns"`
	BytesSent   int64         `json:"bytes_sent"`
	WorkerBytes int64         `json:"worker_bytes"`
	RoundTrips  int           `json:"round_trips"`
	Calls       int           `json:"calls"`
}

// pushRun is one finished opsmop-push run.
type pushRun struct {
	Code    int
	Stdout  string
	Stderr  string
	Events  []pushEvent
	Summary *pushSummary // from run_done; nil if there was none
	Elapsed time.Duration
}

// host returns the summary line of the named host, failing if it is absent.
func (r *pushRun) host(t testing.TB, name string) pushHostStat {
	t.Helper()
	if r.Summary == nil {
		t.Fatalf("no run_done summary; stderr:\n%s", r.Stderr)
	}
	for _, h := range r.Summary.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("host %s not in the summary: %+v", name, r.Summary.Hosts)
	return pushHostStat{}
}

// count counts events of a kind for a host.
func (r *pushRun) count(kind, host string) int {
	n := 0
	for _, e := range r.Events {
		if e.Kind == kind && e.Host == host {
			n++
		}
	}
	return n
}

// logSummary logs the figures of a run, for the report.
func (r *pushRun) logSummary(t testing.TB, what string) {
	t.Helper()
	t.Logf("%s: exit %d in %v", what, r.Code, r.Elapsed.Round(time.Millisecond))
	if r.Summary == nil {
		return
	}
	for _, h := range r.Summary.Hosts {
		t.Logf("  %s: ok=%d changed=%d failed=%d unreachable=%v duration=%v bytes_sent=%d worker_bytes=%d round_trips=%d calls=%d error=%q",
			h.Name, h.OK, h.Changed, h.Failed, h.Unreachable, h.Duration.Round(time.Millisecond),
			h.BytesSent, h.WorkerBytes, h.RoundTrips, h.Calls, h.Error)
	}
}

// command prepares opsmop-push with --json and the given arguments, in the
// policy folder, with the test's HOME and no ssh-agent.
func (e *pushEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--json"}, args...)...)
	cmd.Dir = e.dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+e.home)
	return cmd
}

// push runs opsmop-push to the end (at most two minutes).
func (e *pushEnv) push(args ...string) *pushRun {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &pushRun{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.Code = ee.ExitCode()
	default:
		e.t.Fatalf("opsmop-push %v: %v\nstderr:\n%s", args, err, r.Stderr)
	}
	r.Events = parseEvents(e.t, r.Stdout)
	for _, ev := range r.Events {
		if ev.Kind == "run_done" {
			r.Summary = ev.Summary
		}
	}
	return r
}

func parseEvents(t testing.TB, out string) []pushEvent {
	t.Helper()
	var evs []pushEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev pushEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("--json printed a line that is not a JSON event: %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// mustExit fails unless the run exited with want.
func (r *pushRun) mustExit(t testing.TB, want int) {
	t.Helper()
	if r.Code != want {
		t.Fatalf("exit code %d, want %d\nstderr:\n%s\nstdout:\n%s", r.Code, want, r.Stderr, r.Stdout)
	}
}

// readHostFile reads a file in h's scratch directory; "" if it is missing.
func readHostFile(t testing.TB, h *fleet.Host, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir(), name))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostDirEntries lists h's scratch directory.
func hostDirEntries(t testing.TB, h *fleet.Host) []string {
	t.Helper()
	ents, err := os.ReadDir(h.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// fileOwner returns the uid owning a file, via stat on the host.
func (e *pushEnv) fileOwner(h *fleet.Host, path string) string {
	e.t.Helper()
	out, err := e.f.Exec(h, "stat", "-c", "%u", path)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// netnsOf returns the network namespace link of a process ("net:[4026...]").
func netnsOf(pid int) string {
	s, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	return s
}

// workerProcs lists processes of h (its user or root, in h's network
// namespace) whose command line matches pattern (pgrep -f).
func (e *pushEnv) workerProcs(h *fleet.Host, pattern string) []string {
	e.t.Helper()
	nsOut, err := e.f.Exec(h, "readlink", "/proc/self/ns/net")
	if err != nil {
		e.t.Fatal(err)
	}
	ns := strings.TrimSpace(string(nsOut))
	var found []string
	for _, user := range []string{h.User, "root"} {
		out, err := exec.Command("pgrep", "-a", "-u", user, "-f", pattern).Output()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: none matched
			e.t.Fatalf("pgrep -u %s: %v", user, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pidStr, _, _ := strings.Cut(line, " ")
			pid, err := strconv.Atoi(pidStr)
			if err != nil {
				continue
			}
			if netnsOf(pid) == ns {
				if len(line) > 100 {
					line = line[:100] + "..."
				}
				found = append(found, user+": "+line)
			}
		}
	}
	return found
}

// portProxy forwards a local TCP port in the root namespace to addr, so a
// host can be reached on a port other than 22 (for opsmop_port). It returns
// the port and a count of the connections accepted.
func portProxy(t testing.TB, addr string) (int, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				up, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, &n
}

// knownHostsLine records h's host key under another address, port.
func knownHostsLine(t testing.TB, h *fleet.Host, hostport string) string {
	t.Helper()
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKeyPub))
	if err != nil {
		t.Fatal(err)
	}
	return knownhosts.Line([]string{knownhosts.Normalize(hostport)}, pub) + "\n"
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
