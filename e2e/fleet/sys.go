package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Tools the fleet runs. They are looked up in PATH and then in the sbin
// directories, which a non-login root shell may not have in PATH.
var tools = []string{"ip", "sshd", "sudo", "visudo", "newusers", "chpasswd", "userdel"}

var (
	toolOnce  sync.Once
	toolPaths map[string]string
	toolErr   error
)

func lookTools() (map[string]string, error) {
	toolOnce.Do(func() {
		toolPaths = map[string]string{}
		var missing []string
		for _, t := range tools {
			p, err := exec.LookPath(t)
			if err != nil {
				for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
					if fi, err2 := os.Stat(filepath.Join(dir, t)); err2 == nil && fi.Mode()&0o111 != 0 {
						p, err = filepath.Join(dir, t), nil
						break
					}
				}
			}
			if err != nil {
				missing = append(missing, t)
				continue
			}
			toolPaths[t] = p
		}
		if len(missing) > 0 {
			toolErr = fmt.Errorf("fleet: missing tools %s: run e2e/setup.sh as root (installs openssh-server sudo iproute2)", strings.Join(missing, ", "))
		}
	})
	return toolPaths, toolErr
}

func tool(name string) string {
	paths, _ := lookTools()
	if p, ok := paths[name]; ok {
		return p
	}
	return name
}

// Check reports why this process cannot run a fleet, or nil if it can.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("fleet: end-to-end tests need root (they create network namespaces, users and sudoers files): run as root, or set OPSMOP_E2E_SKIP=1 to skip them")
	}
	if _, err := lookTools(); err != nil {
		return err
	}
	return nil
}

// run runs a short-lived command and returns its stdout. A failure carries
// the command and its stderr; stdin, which may hold passwords, never does.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool(name), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// stateDir holds the lock and the registry of live fleets. It is on tmpfs,
// so a reboot empties it just as it empties /run/netns.
const stateDir = "/run/opsmop-e2e"

// withLock runs fn holding an exclusive lock shared by every fleet on the
// machine. It serialises address allocation and user database edits, which
// shadow-utils refuse to do concurrently ("cannot lock /etc/passwd").
func withLock(fn func() error) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("fleet: create %s: %w", stateDir, err)
	}
	lf, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("fleet: open lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("fleet: take lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return fn()
}

// parallel calls fn(i) for i in [0,n) with at most limit calls at once and
// returns every error joined.
func parallel(n, limit int, fn func(i int) error) error {
	sem := make(chan struct{}, limit)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeFile writes a file in a directory only root can write to, so a plain
// write is safe from tampering; the fleet directory dies with the test run,
// which is why it is not fsynced. Files outside it use writeFileAtomic.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same directory
// whose name contains a dot, which sudo skips in /etc/sudoers.d, so sudo
// never reads a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("fleet: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("fleet: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fleet: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}
