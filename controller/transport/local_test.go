package transport

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsmop/opsmop/internal/testutil"
)

func TestDialLocal(t *testing.T) {
	// The worker says something on stderr first: it must reach the log
	// and not the data stream.
	wrapper := filepath.Join(t.TempDir(), "worker.sh")
	script := "#!/bin/sh\necho 'hello on stderr' >&2\nexec " + shellQuote(fakeWorker) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     LocalOptions
		wantUser string
		root     bool // needs root: sudo without a password
	}{
		{name: "child", opts: LocalOptions{}, wantUser: currentUserName(t)},
		{name: "sudo", opts: LocalOptions{Sudo: true}, wantUser: "root", root: true},
		{name: "sudo with password not asked", opts: LocalOptions{Sudo: true, SudoPassword: pw("unused")}, wantUser: "root", root: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root so that sudo does not ask for a password (CI runs as root)")
			}
			log := &testutil.SyncBuffer{}
			tt.opts.Binary = wrapper
			tt.opts.Log = log
			c, err := DialLocal(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			h := handshake(t, c)
			if h.User != tt.wantUser {
				t.Errorf("worker user = %s, want %s", h.User, tt.wantUser)
			}
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if !waitNoProcess(h.PID, 5*time.Second) {
				t.Errorf("worker pid %d still running after Close", h.PID)
			}
			if !strings.Contains(log.String(), "local: hello on stderr\n") {
				t.Errorf("worker stderr did not reach the log: %q", log.String())
			}
		})
	}
}

func currentUserName(t *testing.T) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func waitNoProcess(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/proc/" + itoa(pid)); os.IsNotExist(err) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLocalWorkerBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proc := "/proc/" + strconv.Itoa(os.Getpid()) + "/exe"
	tests := []struct {
		name     string
		binary   string
		sudo     sudoSpec
		want     string
		wantSame bool
	}{
		{"a binary given", "/opt/opsmop", sudoSpec{}, "/opt/opsmop", false},
		{"ourselves", "", sudoSpec{}, proc, true},
		{"ourselves under sudo to root", "", sudoSpec{Enabled: true}, proc, true},
		{"ourselves under sudo to another user", "", sudoSpec{Enabled: true, User: "bob"}, self, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, same, err := localWorkerBinary(tt.binary, tt.sudo)
			if err != nil || got != tt.want || same != tt.wantSame {
				t.Errorf("got %q, same %v, %v; want %q, same %v", got, same, err, tt.want, tt.wantSame)
			}
		})
	}
	// The link runs this very file: what the worker gets is our build.
	a, errA := os.Stat(proc)
	b, errB := os.Stat(self)
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("%s is not %s: %v %v", proc, self, errA, errB)
	}
}
