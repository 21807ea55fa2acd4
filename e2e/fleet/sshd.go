package fleet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// genKey returns a new ed25519 key as an OpenSSH private key file and an
// authorized_keys line. Generating in Go costs microseconds where
// ssh-keygen costs a process per key.
func genKey(comment string) (priv []byte, pubLine string, err error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("fleet: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return nil, "", fmt.Errorf("fleet: marshal key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("fleet: public key: %w", err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), nil
}

// sshdConfig is kept light for fleets of hundreds: no PAM, DNS, motd or
// lastlog work per login, and MaxStartups high enough for a benchmark that
// opens many connections to one host at once. AllowUsers admits only the
// host's own user, so a test that reaches the wrong host fails loudly.
// OpenSSH 9.2 has no PerSourcePenalties; from 9.8 on it would need "no".
func sshdConfig(h *Host) string {
	return fmt.Sprintf(`# opsmop e2e fleet host %[1]s
ListenAddress %[2]s:%[3]d
HostKey %[4]s
PidFile none
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
Banner none
MaxStartups 200:30:1000
MaxSessions 100
LoginGraceTime 30
PermitRootLogin no
AllowUsers %[5]s
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication no
StrictModes yes
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PermitUserEnvironment no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel INFO
`, h.Netns, h.Addr, h.Port, h.hostKeyPath(), h.User)
}

// sshdProc is one host's listening sshd.
type sshdProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited and was reaped
	log  *os.File
}

// startSSHD starts the host's sshd inside its namespace, in the foreground
// (-D) so it stays our child, logging to sshd.log (-e).
func startSSHD(h *Host) (*sshdProc, error) {
	logf, err := os.OpenFile(h.sshdLogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	argv := []string{"netns", "exec", h.Netns, tool("sshd"), "-D", "-e", "-f", h.sshdConfigPath()}
	if h.privateRootCache {
		if err := os.MkdirAll(h.RootCacheDir(), 0o700); err != nil {
			logf.Close()
			return nil, fmt.Errorf("fleet: %w", err)
		}
		// ip netns exec runs the command in a mount namespace of its own,
		// so the bind mount is seen by this sshd and its children only.
		argv = []string{"netns", "exec", h.Netns, "/bin/sh", "-c", `mount --bind "$0" ` + rootCache + ` && exec "$@"`,
			h.RootCacheDir(), tool("sshd"), "-D", "-e", "-f", h.sshdConfigPath()}
	}
	cmd := exec.Command(tool("ip"), argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("fleet: start sshd for %s: %w", h.Name, err)
	}
	p := &sshdProc{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits until the host's sshd listens, or until it exits or the
// deadline passes. It reads the namespace's TCP table through the sshd's
// /proc entry (ip netns exec execs sshd in place, so the pid is sshd's)
// instead of connecting: each probe connection would cost sshd a fork and
// re-exec, which at 500 hosts doubled the start time. With probe set, it
// also waits for the banner over the network, which proves the bridge path.
func (p *sshdProc) waitReady(h *Host, deadline time.Time, probe bool) error {
	tcp := fmt.Sprintf("/proc/%d/net/tcp", p.cmd.Process.Pid)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("fleet: sshd for %s exited: %s", h.Name, tail(h.sshdLogPath()))
		default:
		}
		if listening(tcp, h.Port) && (!probe || bannerOK(h.HostPort())) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fleet: sshd for %s not answering on %s: %s", h.Name, h.HostPort(), tail(h.sshdLogPath()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listening reports whether a /proc/net/tcp table has a socket in state
// LISTEN (0A) on port.
func listening(table string, port int) bool {
	b, err := os.ReadFile(table)
	if err != nil {
		return false
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" {
			return true
		}
	}
	return false
}

func bannerOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	n, _ := c.Read(buf)
	return bytes.HasPrefix(buf[:n], []byte("SSH-2.0-"))
}

// stop ends the listening sshd; sessions it forked are not its process
// group (sshd calls setsid), so callers that want them gone use killAll.
func (p *sshdProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(3 * time.Second):
	}
	p.cmd.Process.Kill()
	<-p.done
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (h *Host) base() string { return filepath.Join(h.fleetDir, h.Name) }

// rootCache is root's cache directory, which Options.PrivateRootCache
// makes per host.
const rootCache = "/root/.cache"

// RootCacheDir is, with Options.PrivateRootCache, the directory this
// machine sees where the host sees /root/.cache.
func (h *Host) RootCacheDir() string   { return filepath.Join(h.base(), "root-cache") }
func (h *Host) hostKeyPath() string    { return filepath.Join(h.base(), "sshd", "ssh_host_ed25519_key") }
func (h *Host) sshdConfigPath() string { return filepath.Join(h.base(), "sshd", "sshd_config") }
func (h *Host) sshdLogPath() string    { return filepath.Join(h.base(), "sshd", "sshd.log") }

// writeHostKey installs a new host key for h and records its public line.
func writeHostKey(h *Host) error {
	priv, pub, err := genKey("root@" + h.Netns)
	if err != nil {
		return err
	}
	if err := writeFile(h.hostKeyPath(), priv, 0o600); err != nil {
		return err
	}
	h.HostKeyPub = pub
	return nil
}
