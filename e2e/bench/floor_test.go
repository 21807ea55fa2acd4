package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opsmop/opsmop/internal/buildinfo"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// floorResult is one run of the floor: `sudo -n true` over a fresh SSH
// connection to every host at once.
type floorResult struct {
	Wall    time.Duration
	Err     error
	Connect spread // per host: TCP connect, SSH handshake and key auth
	Exec    spread // per host: open a session, run sudo -n true, exit status
	// MachineCPU is the CPU all cores spent during the run, this process's
	// SSH client included.
	MachineCPU time.Duration
}

// runFloor runs the floor in process with golang.org/x/crypto/ssh, the
// library opsmop-push uses, checking host keys against the same
// known_hosts. It is the least any push tool can do: one connection, one
// command under sudo.
func runFloor(ctx context.Context, bd *bed) floorResult {
	return runEverywhere(ctx, bd, "sudo -n true")
}

// runEverywhere runs one command over a fresh SSH connection to every host
// at once and times it.
func runEverywhere(ctx context.Context, bd *bed, command string) floorResult {
	cb, err := knownhosts.New(filepath.Join(bd.home, ".ssh", "known_hosts"))
	if err != nil {
		return floorResult{Err: err}
	}
	cfgs := make([]*ssh.ClientConfig, len(bd.hosts))
	for i, h := range bd.hosts {
		pem, err := os.ReadFile(h.KeyPath)
		if err != nil {
			return floorResult{Err: err}
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			return floorResult{Err: fmt.Errorf("key of %s: %w", h.Name, err)}
		}
		cfgs[i] = &ssh.ClientConfig{
			User: h.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: cb, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
			Timeout: 30 * time.Second,
		}
	}
	conn := make([]time.Duration, len(bd.hosts))
	exe := make([]time.Duration, len(bd.hosts))
	errs := make([]error, len(bd.hosts))
	var wg sync.WaitGroup
	busy0 := machineBusy()
	start := time.Now()
	for i := range bd.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn[i], exe[i], errs[i] = sshRun(ctx, bd.addrs[i], cfgs[i], command)
		}()
	}
	wg.Wait()
	r := floorResult{Wall: time.Since(start), Connect: spreadOf(conn), Exec: spreadOf(exe), MachineCPU: machineBusy() - busy0}
	for i, err := range errs {
		if err != nil {
			r.Err = fmt.Errorf("%s on %s: %w", command, bd.hosts[i].Name, err)
			break
		}
	}
	return r
}

func sshRun(ctx context.Context, addr string, cfg *ssh.ClientConfig, command string) (conn, exe time.Duration, err error) {
	t0 := time.Now()
	d := net.Dialer{Timeout: cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return 0, 0, err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	t1 := time.Now()
	s, err := client.NewSession()
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	if out, err := s.CombinedOutput(command); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", command, err, out)
	}
	return t1.Sub(t0), time.Since(t1), nil
}

// runWorkerProbe is the floor plus what a warm opsmop run adds on the host
// before its first resource: exec the cached worker binary under sudo and
// gather facts (`opsmop-worker facts`), without the bootstrap script or the RPC
// channel. It needs a warm worker cache.
func runWorkerProbe(ctx context.Context, bd *bed) floorResult {
	sum, err := buildinfo.FileHash(bd.worker)
	if err != nil {
		return floorResult{Err: err}
	}
	return runEverywhere(ctx, bd, "sudo -n "+workerCache+"/opsmop-"+sum+" facts >/dev/null")
}
