package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// dial logs in to h as its user with its key, checking the host key
// against the fleet's known_hosts file.
func dial(f *Fleet, h *Host) (*ssh.Client, error) {
	pem, err := os.ReadFile(h.KeyPath)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	hostKeys, err := knownhosts.New(f.KnownHosts)
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", h.HostPort(), &ssh.ClientConfig{
		User:              h.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           5 * time.Second,
	})
}

// remote runs cmd in a new session, optionally with a pseudo-terminal.
func remote(c *ssh.Client, cmd, stdin string, pty bool) (stdout, stderr string, err error) {
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	if pty {
		if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
			return "", "", err
		}
	}
	var o, e bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = strings.NewReader(stdin), &o, &e
	err = s.Run(cmd)
	return o.String(), e.String(), err
}

func TestFleetIntegration(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const password = "correct horse 7"
	t0 := time.Now()
	f, err := Start(ctx, Options{
		Hosts:        3,
		SudoPassword: map[int]string{1: password},
		RequireTTY:   map[int]bool{2: true},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("started 3 hosts in %v", time.Since(t0))
	closed := false
	defer func() {
		if !closed {
			f.Close()
		}
	}()

	t.Run("distinct hosts", func(t *testing.T) {
		addrs, users := map[string]bool{}, map[string]bool{}
		for _, h := range f.Hosts {
			if addrs[h.Addr] || users[h.User] {
				t.Errorf("%s: address %s or user %s not unique", h.Name, h.Addr, h.User)
			}
			addrs[h.Addr], users[h.User] = true, true
			fi, err := os.Stat(h.KeyPath)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Uid != 0 {
				t.Errorf("%s: key %s has mode %v owner %d, want 0600 root", h.Name, h.KeyPath, fi.Mode().Perm(), st.Uid)
			}
			if fi, err := os.Stat(h.Dir()); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Errorf("%s: scratch dir %s missing or not root's: %v", h.Name, h.Dir(), err)
			}
			out, err := f.Exec(h, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
			if err != nil || !strings.Contains(string(out), " "+h.Addr+"/") {
				t.Errorf("%s: Exec ip addr = %q, %v; want %s", h.Name, out, err, h.Addr)
			}
		}
	})

	t.Run("hosts spread over the disk", func(t *testing.T) {
		if !takesTopDirFlag(t) {
			t.Log("the filesystem of the temporary directory has no FS_TOPDIR_FL; nothing to check")
			return
		}
		if flags := dirFlags(t, f.Dir); flags&topDirFlag == 0 {
			t.Errorf("fleet dir %s has flags %#x, want FS_TOPDIR_FL (%#x)", f.Dir, flags, topDirFlag)
		}
	})

	tests := []struct {
		name     string
		host     int
		cmd      string
		stdin    string
		pty      bool
		wantOut  string // substring of stdout, if ok
		wantFail string // substring of stderr if the command must fail
	}{
		{name: "nopasswd sudo", host: 0, cmd: "sudo -n true"},
		{name: "nopasswd sudo is root", host: 0, cmd: "sudo -n id -un", wantOut: "root"},
		{name: "password host refuses sudo -n", host: 1, cmd: "sudo -n true", wantFail: "password is required"},
		{name: "password sudo", host: 1, cmd: "sudo -S -p OPSMOP-PROMPT: id -un", stdin: password + "\n", wantOut: "root"},
		{name: "wrong password", host: 1, cmd: "sudo -S -p OPSMOP-PROMPT: true", stdin: "wrong\n", wantFail: "incorrect password"},
		{name: "requiretty refuses without tty", host: 2, cmd: "sudo -n true", wantFail: "tty"},
		{name: "requiretty with pty", host: 2, cmd: "sudo -n id -un", pty: true, wantOut: "root"},
	}
	for _, h := range f.Hosts {
		tests = append(tests, struct {
			name     string
			host     int
			cmd      string
			stdin    string
			pty      bool
			wantOut  string
			wantFail string
		}{name: h.Name + " login user", host: h.Index, cmd: "id -un", wantOut: h.User})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := f.Hosts[tt.host]
			c, err := dial(f, h)
			if err != nil {
				t.Fatalf("dial %s: %v", h.Name, err)
			}
			defer c.Close()
			out, errOut, err := remote(c, tt.cmd, tt.stdin, tt.pty)
			if tt.wantFail != "" {
				// With a pty, stderr arrives on stdout.
				if err == nil || !strings.Contains(errOut+out, tt.wantFail) {
					t.Fatalf("%q on %s = %v, stderr %q; want failure with %q", tt.cmd, h.Name, err, errOut+out, tt.wantFail)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q on %s: %v: %s", tt.cmd, h.Name, err, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Fatalf("%q on %s printed %q, want %q", tt.cmd, h.Name, out, tt.wantOut)
			}
		})
	}

	t.Run("user cannot log in to another host", func(t *testing.T) {
		other := *f.Hosts[1]
		other.Addr = f.Hosts[0].Addr // host0 with host1's user and key
		if c, err := dial(f, &other); err == nil {
			c.Close()
			t.Fatal("host0 accepted host1's user")
		}
	})

	t.Run("rotated host key is refused", func(t *testing.T) {
		h := f.Hosts[0]
		old := h.HostKeyPub
		if err := f.RotateHostKey(h); err != nil {
			t.Fatal(err)
		}
		if h.HostKeyPub == old {
			t.Fatal("HostKeyPub unchanged")
		}
		_, err := dial(f, h)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) || len(ke.Want) == 0 {
			t.Fatalf("dial after rotation = %v, want a knownhosts.KeyError for a changed key", err)
		}
	})

	t.Run("stopped host is unreachable until restarted", func(t *testing.T) {
		h := f.Hosts[2]
		if err := f.StopHost(h); err != nil {
			t.Fatal(err)
		}
		if c, err := dial(f, h); err == nil {
			c.Close()
			t.Fatal("dial to a stopped host succeeded")
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial to a stopped host = %v, want connection refused", err)
		}
		if err := f.StartHost(h); err != nil {
			t.Fatal(err)
		}
		c, err := dial(f, h)
		if err != nil {
			t.Fatalf("dial after StartHost: %v", err)
		}
		c.Close()
	})

	// Leave a session process behind on purpose: Close must kill it too.
	c, err := dial(f, f.Hosts[1])
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.NewSession()
	if err := s.Start("sleep 600"); err != nil {
		t.Fatal(err)
	}

	t0 = time.Now()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	t.Logf("closed 3 hosts in %v", time.Since(t0))
	c.Close()
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertGone(t, f)
}

// assertGone checks that nothing of f is left on the machine.
func assertGone(t *testing.T, f *Fleet) {
	t.Helper()
	ctx := context.Background()
	found, err := discover(ctx, f.Name[:len(f.Name)-idLen])
	if err != nil {
		t.Fatal(err)
	}
	if o := found[f.Name]; o != nil {
		t.Errorf("left behind: %+v", *o)
	}
	users, err := listUsers()
	if err != nil {
		t.Fatal(err)
	}
	group, _ := os.ReadFile("/etc/group")
	for _, h := range f.Hosts {
		if _, ok := users[h.User]; ok {
			t.Errorf("user %s left", h.User)
		}
		if strings.Contains(string(group), "\n"+h.User+":") {
			t.Errorf("group %s left", h.User)
		}
		if _, err := os.Stat("/run/netns/" + h.Netns); err == nil {
			t.Errorf("namespace %s left", h.Netns)
		}
		// Zombies are ignored: they hold nothing, and init reaps them.
		out, _ := exec.Command("ps", "-o", "stat=,pid=,args=", "-u", fmt.Sprint(h.UID)).Output()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.HasPrefix(line, "Z") {
				t.Errorf("process of %s left: %s", h.User, line)
			}
		}
	}
	if _, err := os.Stat(f.Dir); err == nil {
		t.Errorf("%s left", f.Dir)
	}
	if m, _ := filepath.Glob("/etc/sudoers.d/" + f.Name + "*"); len(m) > 0 {
		t.Errorf("sudoers files left: %v", m)
	}
	if _, err := os.Stat(registryPath(f.Name)); err == nil {
		t.Errorf("registry entry of %s left", f.Name)
	}
}

// TestSweepIntegration plays a crashed test run: a fleet whose registry
// names a dead process must be swept away completely, while a live fleet
// next to it is left alone.
func TestSweepIntegration(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const prefix = "omtsw"
	live, err := Start(ctx, Options{Hosts: 1, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dead, err := Start(ctx, Options{Hosts: 2, Prefix: prefix, SudoPassword: map[int]string{0: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()

	// A pid that no longer runs: a finished child.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(registryPath(dead.Name), []byte(fmt.Sprintf("%d 1\n", cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(prefix); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	assertGone(t, dead)
	c, err := dial(live, live.Hosts[0])
	if err != nil {
		t.Fatalf("live fleet broken by Sweep: %v", err)
	}
	c.Close()
	if err := dead.Close(); err != nil {
		t.Fatalf("Close after Sweep: %v", err)
	}
}

func TestValidateOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" for valid
	}{
		{"valid", Options{Hosts: 2, Prefix: "omt", SudoPassword: map[int]string{1: "x"}}, ""},
		{"no hosts", Options{Hosts: 0, Prefix: "omt"}, "Hosts is 0"},
		{"too many hosts", Options{Hosts: MaxHosts + 1, Prefix: "omt"}, "want 1 to"},
		{"password for missing host", Options{Hosts: 1, Prefix: "omt", SudoPassword: map[int]string{3: "x"}}, "host 3"},
		{"password with colon", Options{Hosts: 1, Prefix: "omt", SudoPassword: map[int]string{0: "a:b"}}, "colon"},
		{"tty for missing host", Options{Hosts: 1, Prefix: "omt", RequireTTY: map[int]bool{-1: true}}, "host -1"},
		{"bad prefix", Options{Hosts: 1, Prefix: "Bad"}, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateOptions(tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// BenchmarkStart measures bringing a fleet up and tearing it down.
//
//	go test -run NONE -bench Start -benchtime 1x ./e2e/fleet/
//
// OPSMOP_FLEET_BENCH_SIZES=5,50,500 picks other fleet sizes.
func BenchmarkStart(b *testing.B) {
	Require(b)
	sizes := []int{5, 50, 200}
	if env := os.Getenv("OPSMOP_FLEET_BENCH_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("OPSMOP_FLEET_BENCH_SIZES=%q: %v", env, err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			var start, stop time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				f, err := Start(context.Background(), Options{Hosts: n, SudoPassword: map[int]string{0: "pw"}})
				if err != nil {
					b.Fatal(err)
				}
				start += time.Since(t0)
				t0 = time.Now()
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				stop += time.Since(t0)
			}
			b.ReportMetric(start.Seconds()/float64(b.N), "start-s")
			b.ReportMetric(stop.Seconds()/float64(b.N), "close-s")
		})
	}
}

// TestPrivateRootCacheIntegration: with PrivateRootCache each host's root
// writes to a /root/.cache of its own, which this machine sees in
// Host.RootCacheDir, and this machine's /root/.cache is untouched.
func TestPrivateRootCacheIntegration(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := Start(ctx, Options{Hosts: 2, Prefix: "omtpc", PrivateRootCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mark := "opsmop-private-cache-" + f.Name
	for _, h := range f.Hosts {
		c, err := dial(f, h)
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, err := remote(c, "sudo -n sh -c 'echo "+h.Name+" > /root/.cache/"+mark+"'", "", false)
		c.Close()
		if err != nil {
			t.Fatalf("%s: write to /root/.cache: %v: %s", h.Name, err, stderr)
		}
	}
	for _, h := range f.Hosts {
		got, err := os.ReadFile(filepath.Join(h.RootCacheDir(), mark))
		if err != nil || strings.TrimSpace(string(got)) != h.Name {
			t.Errorf("%s: its cache holds %q, %v; want its own name", h.Name, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join("/root/.cache", mark)); !os.IsNotExist(err) {
		t.Errorf("the machine's own /root/.cache was written: %v", err)
	}
}

// takesTopDirFlag reports whether a directory made where fleets live can
// carry FS_TOPDIR_FL (ext4 can; tmpfs has no flags). It sets the flag
// itself, so that a spreadHosts that does nothing cannot pass for a
// filesystem without the flag.
func takesTopDirFlag(t *testing.T) bool {
	dir, err := os.MkdirTemp("", "omtopdir")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return false
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|topDirFlag)) == nil
}

// dirFlags returns a directory's inode flags, or 0 where it has none.
func dirFlags(t *testing.T, dir string) uint32 {
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, _ := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	return flags
}
