package transport

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsmop/opsmop/protocol"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestRemoteCommandGolden pins what a host is sent to start the worker:
// the exec request's command line in each case, and the script on stdin.
func TestRemoteCommandGolden(t *testing.T) {
	hashes := map[string]string{
		"amd64": strings.Repeat("a", 64),
		"arm64": strings.Repeat("b", 64),
	}
	tests := []struct {
		name string
		sudo sudoSpec
		tty  bool
	}{
		{"plain", sudoSpec{}, false},
		{"sudo_nopasswd", sudoSpec{Enabled: true}, false},
		{"sudo_password", sudoSpec{Enabled: true, Password: true, Prompt: "[opsmop-sudo-0123456789abcdef]:"}, false},
		{"sudo_as_user", sudoSpec{Enabled: true, User: "post'gres", Password: true, Prompt: "[opsmop-sudo-0123456789abcdef]:"}, false},
		{"sudo_nopasswd_tty", sudoSpec{Enabled: true}, true},
	}
	var commands strings.Builder
	for _, tt := range tests {
		st := remoteStart(hashes, tt.sudo, tt.tty)
		when := "at once"
		if st.atMarker {
			when = "at " + lineScript
		}
		fmt.Fprintf(&commands, "%s (script %s):\n%s\n\n", tt.name, when, st.command)
		if st.script != bootScript(hashes) {
			t.Errorf("%s: the script sent is not bootScript's", tt.name)
		}
	}
	checkGolden(t, "commands.golden", commands.String())
	checkGolden(t, "script.golden", bootScript(hashes))
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s changed; run with -update if intended\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestLocalSudoArgv(t *testing.T) {
	got := localSudoArgv("/proc/42/exe", []string{"worker", "--same-build"}, sudoSpec{Enabled: true, Password: true, Prompt: "P:"})
	want := []string{"sudo", "-S", "-p", "P:", "-u", "root", "--", "/bin/sh", "-c", `echo OPSMOP-READY; exec "$0" "$@"`, "/proc/42/exe", "worker", "--same-build"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv = %q, want %q", got, want)
	}
	got = localSudoArgv("/x", []string{"worker"}, sudoSpec{Enabled: true, User: "bob"})
	if got[1] != "-n" || got[3] != "bob" {
		t.Errorf("argv without password = %q, want sudo -n -u bob", got)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "a'b'c", "$HOME `x` \"q\"", "line\nbreak"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("shellQuote(%q) came back as %q", s, out)
		}
	}
}

// runScript runs the exact remote command with the local sh, as sshd would
// with the login shell, with HOME pointing at home.
func runScript(t *testing.T, home string, bins *binarySet) (*conn, error) {
	t.Helper()
	return runScriptPath(t, home, bins, os.Getenv("PATH"))
}

// runScriptPath is runScript with the given PATH.
func runScriptPath(t *testing.T, home string, bins *binarySet, path string, extraEnv ...string) (*conn, error) {
	t.Helper()
	return runStart(t, home, bins, remoteStart(bins.hashes(), sudoSpec{}, false), path, extraEnv...)
}

// runStart runs st's command with the local sh and answers the host as
// the controller does.
func runStart(t *testing.T, home string, bins *binarySet, st start, path string, extraEnv ...string) (*conn, error) {
	t.Helper()
	env := append([]string{"HOME=" + home, "PATH=" + path}, extraEnv...)
	var log bytes.Buffer
	lp, err := startLocal("testhost", []string{"/bin/sh", "-c", st.command}, env, &log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := &bootMachine{host: "testhost", start: st, archErr: bins.archError}
	c, err := bootstrap(ctx, lp.proc, m, nil, bins, Stats{})
	if err != nil {
		lp.close()
		return nil, err
	}
	c.closer = lp.close
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// handshake starts a protocol session on c and says hello.
func handshake(t *testing.T, c Conn) protocol.Hello {
	t.Helper()
	sess, err := protocol.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	return hello(t, sess)
}

func hello(t *testing.T, sess *protocol.Session) protocol.Hello {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hello, err := sess.Handshake(ctx, protocol.Hello{Version: protocol.Version})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return hello
}

// TestScriptColdThenWarm runs the bootstrap script with the local sh: the
// first run uploads the binary, the second finds it in the cache.
func TestScriptColdThenWarm(t *testing.T) {
	home := t.TempDir()
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	want := bins.byArch[runtime.GOARCH].sha256

	cold, err := runScript(t, home, bins)
	if err != nil {
		t.Fatalf("cold start: %v", err)
	}
	st := cold.Stats()
	if st.WorkerCached || st.WorkerBytesSent == 0 || st.RoundTrips != 2 {
		t.Errorf("cold stats = %+v, want binary sent and 2 round trips", st)
	}
	if h := handshake(t, cold); h.BuildHash != want || cold.WorkerHash() != want {
		t.Errorf("worker build = %s, started %s, want %s", h.BuildHash, cold.WorkerHash(), want)
	}
	cached := filepath.Join(home, ".cache", "opsmop", "opsmop-"+want)
	fi, err := os.Stat(cached)
	if err != nil {
		t.Fatalf("binary not cached: %v", err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("cached binary mode = %v, want 0700", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(cached))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode = %v, want 0700", di.Mode().Perm())
	}
	t.Logf("cold: %+v", st)
	cold.Close()

	warm, err := runScript(t, home, bins)
	if err != nil {
		t.Fatalf("warm start: %v", err)
	}
	st = warm.Stats()
	if !st.WorkerCached || st.WorkerBytesSent != 0 || st.RoundTrips != 1 {
		t.Errorf("warm stats = %+v, want cached, nothing sent, 1 round trip", st)
	}
	if h := handshake(t, warm); h.BuildHash != want || warm.WorkerHash() != want {
		t.Errorf("warm: worker build = %s, started %s, want %s", h.BuildHash, warm.WorkerHash(), want)
	}
	t.Logf("warm: %+v", st)
	leftovers, _ := filepath.Glob(filepath.Join(home, ".cache", "opsmop", ".opsmop-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestScriptAfterMarker starts the worker the way a host with a sudo
// password or a terminal does: the command prints OPSMOP-SCRIPT and only
// then reads the script, exactly its length, from stdin.
func TestScriptAfterMarker(t *testing.T) {
	home := t.TempDir()
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	st := remoteStart(bins.hashes(), sudoSpec{}, true)
	if !st.atMarker {
		t.Fatal("a start on a terminal must wait for the marker")
	}
	for _, tc := range []struct {
		name       string
		cached     bool
		roundTrips int
	}{
		{"cold", false, 3},
		{"warm", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := runStart(t, home, bins, st, os.Getenv("PATH"))
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer c.Close()
			if s := c.Stats(); s.WorkerCached != tc.cached || s.RoundTrips != tc.roundTrips {
				t.Errorf("stats = %+v, want cached %v and %d round trips", s, tc.cached, tc.roundTrips)
			}
			if h := handshake(t, c); h.BuildHash != bins.byArch[runtime.GOARCH].sha256 {
				t.Errorf("worker build = %s", h.BuildHash)
			}
		})
	}
}

// TestScriptParsedWholeBeforeRun feeds sh -s all of the script but its last
// byte: nothing may run yet, or a shell reading ahead could swallow what
// the controller sends once the script has asked for it.
func TestScriptParsedWholeBeforeRun(t *testing.T) {
	home := t.TempDir()
	script := bootScript(map[string]string{runtime.GOARCH: strings.Repeat("0", 64)})
	cmd := exec.Command("/bin/sh", "-s")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, script[:len(script)-1])
	time.Sleep(300 * time.Millisecond)
	cache := filepath.Join(home, ".cache", "opsmop")
	if _, err := os.Stat(cache); err == nil {
		t.Fatal("the script ran before sh had all of it: it made the cache")
	}
	io.WriteString(stdin, script[len(script)-1:])
	stdin.Close() // the read of the size line fails: the script exits
	cmd.Wait()
	if !strings.Contains(out.String(), lineNeed) {
		t.Errorf("the whole script did not run: stdout %q", out.String())
	}
}

// TestScriptRejectsCorruptBinary sends bytes whose hash is not the one the
// script asked for: the script must refuse to install or run them.
func TestScriptRejectsCorruptBinary(t *testing.T) {
	home := t.TempDir()
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("#!/bin/sh\necho pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := loadBinary(fakeWorker)
	if err != nil {
		t.Fatal(err)
	}
	evil := fileBinary(other, real.sha256) // claims the real hash
	bins := &binarySet{byArch: map[string]*workerBinary{runtime.GOARCH: evil}, missing: map[string]error{}}
	_, err = runScript(t, home, bins)
	var be *BootstrapError
	if !errors.As(err, &be) || !strings.Contains(be.Msg, "checksum mismatch") {
		t.Fatalf("err = %v, want checksum mismatch", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(home, ".cache", "opsmop")); len(entries) != 0 {
		t.Errorf("cache dir not empty after a bad upload: %v", entries)
	}
}

func TestScriptUnknownArch(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	b, err := loadBinary(fakeWorker)
	if err != nil {
		t.Fatal(err)
	}
	bins := &binarySet{byArch: map[string]*workerBinary{other: b},
		missing: map[string]error{runtime.GOARCH: errors.New("no opsmop-linux-" + runtime.GOARCH)}}
	_, err = runScript(t, t.TempDir(), bins)
	if err == nil || !strings.Contains(err.Error(), "no opsmop-linux-"+runtime.GOARCH) {
		t.Fatalf("err = %v, want the missing binary named", err)
	}
}

// TestScriptReplacesTamperedCache: a cached binary whose bytes no longer
// match its hash is never run; it is replaced by a fresh, verified upload.
func TestScriptReplacesTamperedCache(t *testing.T) {
	home := t.TempDir()
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	want := bins.byArch[runtime.GOARCH].sha256
	cached := filepath.Join(home, ".cache", "opsmop", "opsmop-"+want)
	if err := os.MkdirAll(filepath.Dir(cached), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\necho pwned\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := runScript(t, home, bins)
	if err != nil {
		t.Fatalf("start with a tampered cache: %v", err)
	}
	defer c.Close()
	if st := c.Stats(); st.WorkerCached || st.WorkerBytesSent == 0 {
		t.Errorf("stats = %+v, want the binary sent again", st)
	}
	if h := handshake(t, c); h.BuildHash != want {
		t.Errorf("worker build = %s, want %s", h.BuildHash, want)
	}
}

// TestScriptWithoutOpenSSL: a host with neither openssl nor zstd verifies
// with sha256sum and receives gzip, on upload and on every warm start.
func TestScriptWithoutOpenSSL(t *testing.T) {
	path := t.TempDir()
	for _, tool := range []string{"sh", "uname", "mkdir", "chmod", "head", "gzip", "sha256sum", "mv", "rm", "cat"} {
		full, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("test needs %s: %v", tool, err)
		}
		if err := os.Symlink(full, filepath.Join(path, tool)); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	want := bins.byArch[runtime.GOARCH].sha256
	cold, err := runScriptPath(t, home, bins, path)
	if err != nil {
		t.Fatalf("cold start without openssl: %v", err)
	}
	handshake(t, cold)
	cold.Close()
	cached := filepath.Join(home, ".cache", "opsmop", "opsmop-"+want)
	if err := os.WriteFile(cached, []byte("#!/bin/sh\necho pwned\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	again, err := runScriptPath(t, home, bins, path)
	if err != nil {
		t.Fatalf("start with a tampered cache: %v", err)
	}
	if st := again.Stats(); st.WorkerCached {
		t.Errorf("tampered binary taken as cached: %+v", st)
	}
	if h := handshake(t, again); h.BuildHash != want {
		t.Errorf("worker build = %s, want %s", h.BuildHash, want)
	}
}

// TestScriptHashesWithoutOpenSSLConfig: openssl hashes the worker without
// reading the system's openssl.cnf (or one the environment names), on
// upload and on a warm start.
func TestScriptHashesWithoutOpenSSLConfig(t *testing.T) {
	real, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("test needs openssl: %v", err)
	}
	wrap, seen := t.TempDir(), filepath.Join(t.TempDir(), "seen")
	script := "#!/bin/sh\necho \"${OPENSSL_CONF-unset}\" >>" + seen + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(wrap, "openssl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []string{"cold", "warm"} {
		c, err := runScriptPath(t, home, bins, wrap+":"+os.Getenv("PATH"), "OPENSSL_CONF=/etc/ssl/elsewhere.cnf")
		if err != nil {
			t.Fatalf("%s start: %v", start, err)
		}
		handshake(t, c)
		c.Close()
	}
	got, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/dev/null\n/dev/null\n"; string(got) != want {
		t.Errorf("OPENSSL_CONF as openssl saw it = %q, want %q (one cold, one warm start)", got, want)
	}
}

// TestScriptClearsOldCache: a cold start removes other builds and logs
// older than a week, and keeps recent ones.
func TestScriptClearsOldCache(t *testing.T) {
	home := t.TempDir()
	cache := filepath.Join(home, ".cache", "opsmop")
	// A cache that exists already, too open: the cold start closes it.
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	files := map[string]bool{ // name → should survive
		"opsmop-0000old": false, "worker-12.log": false, ".opsmop-0000old.77": false,
		"opsmop-1111new": true, "unrelated.txt": true,
	}
	for name, keep := range files {
		p := filepath.Join(cache, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if !keep || name == "unrelated.txt" {
			os.Chtimes(p, old, old)
		}
	}
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	c, err := runScript(t, home, bins)
	if err != nil {
		t.Fatalf("cold start: %v", err)
	}
	handshake(t, c)
	for name, keep := range files {
		_, err := os.Stat(filepath.Join(cache, name))
		if (err == nil) != keep {
			t.Errorf("%s: present=%v, want %v", name, err == nil, keep)
		}
	}
	if di, err := os.Stat(cache); err != nil {
		t.Error(err)
	} else if di.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode = %v, want 0700", di.Mode().Perm())
	}
}

// TestScriptCacheWithoutHome: a worker user whose home cannot hold the cache
// gets a 0700 directory of its own under TMPDIR; one it does not own, or a
// symlink, is refused.
func TestScriptCacheWithoutHome(t *testing.T) {
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	// A home below a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	noHome := filepath.Join(file, "home")
	tmp := t.TempDir()
	uid := strconv.Itoa(os.Getuid())
	c, err := runScriptPath(t, noHome, bins, os.Getenv("PATH"), "TMPDIR="+tmp)
	if err != nil {
		t.Fatalf("start without a home: %v", err)
	}
	handshake(t, c)
	dir := filepath.Join(tmp, "opsmop-"+uid)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("fallback cache %s: %v %v", dir, fi, err)
	}
	c.Close()

	evil := t.TempDir()
	os.Symlink(t.TempDir(), filepath.Join(evil, "opsmop-"+uid))
	_, err = runScriptPath(t, noHome, bins, os.Getenv("PATH"), "TMPDIR="+evil)
	var be *BootstrapError
	if !errors.As(err, &be) || !strings.Contains(be.Msg, "no safe cache") {
		t.Fatalf("symlinked fallback: err = %v, want refused", err)
	}
}

// TestScriptArchWithoutProc: on a kernel without /proc/sys/kernel/arch
// (before 6.1) the script asks uname.
func TestScriptArchWithoutProc(t *testing.T) {
	old := archFile
	archFile = filepath.Join(t.TempDir(), "no-such-file")
	t.Cleanup(func() { archFile = old })
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	c, err := runScript(t, t.TempDir(), bins)
	if err != nil {
		t.Fatalf("start without %s: %v", archFile, err)
	}
	if h := handshake(t, c); h.BuildHash != bins.byArch[runtime.GOARCH].sha256 {
		t.Errorf("worker build = %s, want this architecture's", h.BuildHash)
	}
}

// TestScriptCacheNotOurs: a cache directory in the home that is not the
// worker user's own (another owner, or a symlink) is never used; the
// script falls back to a private directory of its own.
func TestScriptCacheNotOurs(t *testing.T) {
	bins, err := resolveBinaries(testBinaries)
	if err != nil {
		t.Fatal(err)
	}
	uid := strconv.Itoa(os.Getuid())
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, cache string)
	}{
		{"symlink", func(t *testing.T, cache string) {
			if err := os.Symlink(t.TempDir(), cache); err != nil {
				t.Fatal(err)
			}
		}},
		{"another owner", func(t *testing.T, cache string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to give the directory away (CI runs as root)")
			}
			if err := os.Mkdir(cache, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(cache, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			cache := filepath.Join(home, ".cache", "opsmop")
			os.MkdirAll(filepath.Dir(cache), 0o700)
			tc.plant(t, cache)
			tmp := t.TempDir()
			c, err := runScriptPath(t, home, bins, os.Getenv("PATH"), "TMPDIR="+tmp)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			handshake(t, c)
			want := filepath.Join(tmp, "opsmop-"+uid, "opsmop-"+bins.byArch[runtime.GOARCH].sha256)
			if _, err := os.Stat(want); err != nil {
				t.Errorf("worker not cached in the private fallback: %v", err)
			}
		})
	}
}

// TestScriptWidensUploadPipe runs the script's own line that widens stdin
// before the compressed worker is read (perl is part of every Debian) and
// looks at the pipe from our end, as sshd would have it.
func TestScriptWidensUploadPipe(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatalf("test needs perl: %v", err)
	}
	var line string
	for _, l := range strings.Split(bootScript(map[string]string{runtime.GOARCH: "00"}), "\n") {
		if strings.Contains(l, "perl") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("the script never widens its stdin")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdin = r
	out, err := cmd.CombinedOutput()
	r.Close()
	if err != nil {
		t.Fatalf("%s: %v: %s", line, err, out)
	}
	got, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got != 1<<20 {
		t.Errorf("after %q the pipe holds %d bytes, want %d", line, got, 1<<20)
	}
}
