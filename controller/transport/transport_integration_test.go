package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsmop/opsmop/e2e/fleet"
	"github.com/opsmop/opsmop/protocol"
)

// These tests run against real OpenSSH sshd and sudo on e2e/fleet hosts
// (network namespaces; needs root).
func TestFleetTransport(t *testing.T) {
	fleet.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f, err := fleet.Start(ctx, fleet.Options{
		Hosts:        7,
		SudoPassword: map[int]string{1: "s3cret-one", 3: "s3cret-three"},
		RequireTTY:   map[int]bool{2: true, 3: true},
		Prefix:       "omtr",
	})
	if err != nil {
		t.Fatalf("start fleet: %v", err)
	}
	defer f.Close()
	// No ssh-agent and no ~/.ssh keys of whoever runs the tests: only
	// what the settings name.
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir())

	opts := SSHOptions{Binaries: testBinaries, KnownHosts: f.KnownHosts, ConnectTimeout: 10 * time.Second, Log: testLog{t}}
	settings := func(h *fleet.Host) ConnSettings {
		return ConnSettings{Name: h.Name, Address: h.Addr, Port: h.Port, User: h.User,
			IdentityFiles: []string{h.KeyPath}, CheckHostKeys: "true"}
	}
	sum := mustLoad(t, fakeWorker).sha256

	dial := func(t *testing.T, s ConnSettings) (Conn, protocol.Hello, time.Duration) {
		t.Helper()
		start := time.Now()
		c, err := DialSSH(ctx, s, opts)
		if err != nil {
			t.Fatalf("dial %s: %v", s.Name, err)
		}
		t.Cleanup(func() { c.Close() })
		h := handshake(t, c)
		return c, h, time.Since(start)
	}

	t.Run("cold then warm", func(t *testing.T) {
		h := f.Hosts[0]
		cold, hello, took := dial(t, settings(h))
		st := cold.Stats()
		t.Logf("cold: %s %+v", took, st)
		if st.WorkerCached || st.WorkerBytesSent == 0 || st.RoundTrips != 2 {
			t.Errorf("cold start stats %+v: want the binary sent in 2 round trips", st)
		}
		if hello.User != h.User || hello.BuildHash != sum {
			t.Errorf("worker runs as %s build %s, want %s build %s", hello.User, hello.BuildHash, h.User, sum)
		}
		cold.Close()
		fi, err := os.Stat(filepath.Join(h.Home, ".cache", "opsmop", "opsmop-"+sum))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("cached worker: %v %v", fi, err)
		}
		warm, _, took := dial(t, settings(h))
		st = warm.Stats()
		t.Logf("warm: %s %+v", took, st)
		if !st.WorkerCached || st.WorkerBytesSent != 0 || st.RoundTrips != 1 {
			t.Errorf("warm start stats %+v: want no binary and 1 round trip", st)
		}
	})

	t.Run("password login", func(t *testing.T) {
		h := f.Hosts[1]
		s := settings(h)
		s.IdentityFiles = nil
		s.Password = pw(h.SudoPassword)
		_, hello, _ := dial(t, s)
		if hello.User != h.User {
			t.Errorf("worker user %s, want %s", hello.User, h.User)
		}
	})

	sudoCases := []struct {
		name     string
		host     int
		password *string
		reason   string // expected SudoError reason, "" for success
	}{
		{"sudo nopasswd", 0, nil, ""},
		{"sudo password", 1, pw("s3cret-one"), ""},
		{"sudo wrong password", 1, pw("not-the-password-7f3"), "wrong password"},
		{"sudo password missing", 1, nil, "password required"},
		{"requiretty nopasswd", 2, nil, ""},
		{"requiretty password", 3, pw("s3cret-three"), ""},
		{"requiretty wrong password", 3, pw("not-the-password-9c1"), "wrong password"},
	}
	for _, tc := range sudoCases {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(f.Hosts[tc.host])
			s.Sudo = true
			s.SudoPassword = tc.password
			start := time.Now()
			c, err := DialSSH(ctx, s, opts)
			took := time.Since(start)
			if tc.reason != "" {
				var se *SudoError
				if !errors.As(err, &se) || se.Reason != tc.reason {
					t.Fatalf("err = %v, want a SudoError %q", err, tc.reason)
				}
				if tc.password != nil && strings.Contains(err.Error(), *tc.password) {
					t.Errorf("error shows the password: %v", err)
				}
				t.Logf("refused after %s: %v", took, err)
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			hello := handshake(t, c)
			if hello.User != "root" {
				t.Errorf("worker runs as %s, want root", hello.User)
			}
			t.Logf("%s: %s %+v", tc.name, took, c.Stats())
		})
	}

	t.Run("changed host key refused", func(t *testing.T) {
		h := f.Hosts[4]
		if err := f.RotateHostKey(h); err != nil {
			t.Fatal(err)
		}
		_, err := DialSSH(ctx, settings(h), opts)
		var hk *HostKeyChangedError
		if !errors.As(err, &hk) || hk.File != f.KnownHosts || hk.Line == 0 {
			t.Fatalf("err = %v, want *HostKeyChangedError naming %s", err, f.KnownHosts)
		}
		t.Logf("refused: %v", err)
	})

	t.Run("unknown host then accept-new", func(t *testing.T) {
		h := f.Hosts[0]
		o := opts
		o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
		_, err := DialSSH(ctx, settings(h), o)
		var uk *UnknownHostKeyError
		if !errors.As(err, &uk) {
			t.Fatalf("err = %v, want *UnknownHostKeyError", err)
		}
		s := settings(h)
		s.CheckHostKeys = "accept-new"
		c, err := DialSSH(ctx, s, o)
		if err != nil {
			t.Fatalf("accept-new: %v", err)
		}
		c.Close()
		data, _ := os.ReadFile(o.KnownHosts)
		if !strings.Contains(string(data), h.Addr+" "+h.HostKeyPub) {
			t.Errorf("known_hosts = %q, want %s %s", data, h.Addr, h.HostKeyPub)
		}
		c, err = DialSSH(ctx, settings(h), o)
		if err != nil {
			t.Fatalf("strict check after accept-new: %v", err)
		}
		c.Close()
	})

	t.Run("killed controller leaves no worker", func(t *testing.T) {
		for _, sudo := range []bool{false, true} {
			h := f.Hosts[5]
			if sudo {
				h = f.Hosts[6]
			}
			s := settings(h)
			s.Sudo = sudo
			home := h.Home
			if sudo {
				home = "/root"
			}
			path := filepath.Join(home, ".cache", "opsmop", "opsmop-"+sum)
			killController(t, s, f.KnownHosts, path)
			deadline := time.Now().Add(15 * time.Second)
			for {
				out, _ := exec.Command("pgrep", "-f", "-a", path).Output()
				if len(strings.TrimSpace(string(out))) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sudo=%v: worker still running 15s after the controller died:\n%s", sudo, out)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
}

func mustLoad(t *testing.T, path string) *workerBinary {
	b, err := loadBinary(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// killController starts this test binary as a controller that dials s and
// says hello, then kills it with SIGKILL: no Close, no goodbye.
func killController(t *testing.T, s ConnSettings, knownHosts, workerPath string) {
	t.Helper()
	cfg, _ := json.Marshal(helperConfig{Settings: s, KnownHosts: knownHosts, Binary: fakeWorker})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OPSMOP_TRANSPORT_HELPER="+string(cfg))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper controller: %q %v", line, err)
	}
	// The worker runs: otherwise the test below proves nothing.
	if out, _ := exec.Command("pgrep", "-f", workerPath).Output(); len(out) == 0 {
		t.Errorf("no process runs %s while the controller lives", workerPath)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

type helperConfig struct {
	Settings   ConnSettings
	KnownHosts string
	Binary     string
}

// helperMain is the controller that killController kills.
func helperMain(cfgJSON string) int {
	var cfg helperConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := SSHOptions{KnownHosts: cfg.KnownHosts, Binaries: func(string) (string, error) { return cfg.Binary, nil }}
	c, err := DialSSH(context.Background(), cfg.Settings, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sess, err := protocol.Client(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := sess.Handshake(context.Background(), protocol.Hello{Version: protocol.Version}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("READY")
	select {}
}
