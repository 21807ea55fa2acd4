package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/opsmop/opsmop/e2e/fleet"
)

// workerCache is where the worker caches its binary when it runs as root.
// The fleet's hosts share one file system: unless the fleet gives each
// host a private /root/.cache, one cache serves them all.
const workerCache = "/root/.cache/opsmop"

// blobSize is the size of the copied file of the workload.
const blobSize = 1 << 20

// bed is a fleet with a workspace: a copy of testdata with the 1 MiB file,
// a HOME whose known_hosts lists every host, and the inventories for both
// tools. Addresses go through Toxiproxy when an RTT is set.
type bed struct {
	f      *fleet.Fleet
	hosts  []*fleet.Host // the hosts in the inventory, a prefix of f.Hosts
	dir    string        // policy, playbook, templates, inventories
	home   string        // HOME for both tools: .ssh/known_hosts
	bin    string        // the opsmop binary, named opsmop-push
	worker string        // the worker-only build it carries, which hosts run
	rtt    time.Duration
	addrs  []string // per host "ip:port" that clients dial

	proxySrv *toxiproxy.ApiServer
	proxies  []*toxiproxy.Proxy
}

// startFleet starts a fleet of n hosts and closes it when b ends. Close of
// hundreds of hosts takes tens of seconds and is not part of any figure.
// startFleet starts n hosts; privateCache gives each its own root's cache,
// so that a cold apply is cold on every host (with one shared cache, hosts
// that start late find the worker another host has just installed).
func startFleet(b *testing.B, n int, privateCache bool) *fleet.Fleet {
	b.Helper()
	fleet.Require(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	f, err := fleet.Start(ctx, fleet.Options{Hosts: n, Prefix: "ombn", PrivateRootCache: privateCache})
	if err != nil {
		b.Fatalf("start fleet of %d hosts: %v", n, err)
	}
	logf("fleet %s: %d hosts up in %v", f.Name, n, time.Since(t0).Round(time.Millisecond))
	b.Cleanup(func() {
		t0 := time.Now()
		if err := f.Close(); err != nil {
			b.Errorf("close fleet: %v", err)
		}
		logf("fleet %s closed in %v", f.Name, time.Since(t0).Round(time.Millisecond))
	})
	return f
}

// privateBed builds opsmop, starts n hosts with a root's cache each (a
// cold run is cold on every host) and lays out a workspace for all of them.
func privateBed(b *testing.B, n int) *bed {
	b.Helper()
	bin := buildOpsmop(b)
	return newBed(b, startFleet(b, n, true), n, bin)
}

// newBed lays out a workspace for the first n hosts of f.
func newBed(b *testing.B, f *fleet.Fleet, n int, bin string) *bed {
	b.Helper()
	dir := b.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata")); err != nil {
		b.Fatalf("copy testdata: %v", err)
	}
	if err := writeBlob(filepath.Join(dir, "files", "blob.bin")); err != nil {
		b.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		b.Fatal(err)
	}
	pushBin := filepath.Join(dir, "opsmop-push")
	if err := os.Symlink(bin, pushBin); err != nil {
		b.Fatal(err)
	}
	bd := &bed{f: f, hosts: f.Hosts[:n], dir: dir, home: home, bin: pushBin,
		worker: filepath.Join(filepath.Dir(bin), "opsmop-worker")}
	b.Cleanup(bd.stopProxies)
	if err := bd.setRTT(0); err != nil {
		b.Fatal(err)
	}
	return bd
}

// writeBlob writes 1 MiB of incompressible bytes, the same every run.
func writeBlob(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, blobSize)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	return os.WriteFile(path, buf, 0o644)
}

// setRTT points both tools at the hosts directly (rtt 0) or through one
// latency proxy per host, and rewrites known_hosts and the inventories.
func (bd *bed) setRTT(rtt time.Duration) error {
	bd.stopProxies()
	bd.rtt = rtt
	bd.addrs = make([]string, len(bd.hosts))
	for i, h := range bd.hosts {
		bd.addrs[i] = h.HostPort()
	}
	if rtt > 0 {
		if err := bd.startProxies(rtt); err != nil {
			return err
		}
	}
	if err := bd.writeKnownHosts(); err != nil {
		return err
	}
	if err := bd.writeTOML(); err != nil {
		return err
	}
	return bd.writeAnsibleInventory()
}

// startProxies runs one Toxiproxy proxy per host on 127.0.0.1, forwarding to
// the host's sshd with RTT/2 latency upstream and downstream.
func (bd *bed) startProxies(rtt time.Duration) error {
	if bd.proxySrv == nil {
		bd.proxySrv = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	}
	half := int64(rtt / 2 / time.Millisecond)
	for i, h := range bd.hosts {
		p := toxiproxy.NewProxy(bd.proxySrv, fmt.Sprintf("ssh%d", i), "127.0.0.1:0", h.HostPort())
		if err := p.Start(); err != nil {
			return fmt.Errorf("start proxy for %s: %w", h.Name, err)
		}
		bd.proxies = append(bd.proxies, p)
		for _, dir := range []string{"upstream", "downstream"} {
			spec := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`, dir, dir, half)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
				return fmt.Errorf("latency toxic for %s: %w", h.Name, err)
			}
		}
		bd.addrs[i] = p.Listen
	}
	return nil
}

func (bd *bed) stopProxies() {
	for _, p := range bd.proxies {
		p.Stop()
	}
	bd.proxies = nil
}

// writeKnownHosts lists every host's key under the address clients dial, so
// both tools check host keys, behind the proxy too.
func (bd *bed) writeKnownHosts() error {
	var buf bytes.Buffer
	for i, h := range bd.hosts {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKeyPub))
		if err != nil {
			return fmt.Errorf("host key of %s: %w", h.Name, err)
		}
		buf.WriteString(knownhosts.Line([]string{knownhosts.Normalize(bd.addrs[i])}, pub) + "\n")
	}
	return os.WriteFile(filepath.Join(bd.home, ".ssh", "known_hosts"), buf.Bytes(), 0o600)
}

func splitAddr(addr string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return host, n
}

// writeTOML writes inv.toml for opsmop: magic variables for the connection,
// root (the host's scratch dir) and the template variables.
func (bd *bed) writeTOML() error {
	var buf bytes.Buffer
	buf.WriteString("[groups.bench.hosts]\n")
	for i, h := range bd.hosts {
		fmt.Fprintf(&buf, "%s = \"opsmop_host=%s opsmop_ssh_username=%s opsmop_identity_file=%s root=%s\"\n",
			h.Name, bd.addrs[i], h.User, h.KeyPath, h.Dir())
	}
	buf.WriteString("\n[groups.bench.vars]\napp_port = 8080\ntier = \"bench\"\n")
	return os.WriteFile(filepath.Join(bd.dir, "inv.toml"), buf.Bytes(), 0o644)
}

// writeAnsibleInventory writes hosts.ini with the same hosts and variables.
func (bd *bed) writeAnsibleInventory() error {
	var buf bytes.Buffer
	buf.WriteString("[bench]\n")
	for i, h := range bd.hosts {
		ip, port := splitAddr(bd.addrs[i])
		fmt.Fprintf(&buf, "%s ansible_host=%s ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s root=%s\n",
			h.Name, ip, port, h.User, h.KeyPath, h.Dir())
	}
	buf.WriteString("\n[bench:vars]\napp_port=8080\ntier=bench\n")
	return os.WriteFile(filepath.Join(bd.dir, "hosts.ini"), buf.Bytes(), 0o644)
}

// reset makes the next run cold: every host's scratch dir is emptied and,
// when worker is true, the worker cache is removed.
func (bd *bed) reset(worker bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(bd.hosts))
	sem := make(chan struct{}, 8)
	for i, h := range bd.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = emptyDir(h.Dir())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if !worker {
		return nil
	}
	caches := []string{workerCache}
	if bd.f.PrivateRootCache {
		caches = caches[:0]
		for _, h := range bd.hosts {
			caches = append(caches, filepath.Join(h.RootCacheDir(), "opsmop"))
		}
	}
	for _, c := range caches {
		if err := os.RemoveAll(c); err != nil {
			return fmt.Errorf("remove worker cache: %w", err)
		}
	}
	return nil
}

func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// buildOpsmop builds opsmop as `make build` does, with the worker-only
// build embedded; bin/opsmop-worker beside it is that worker.
func buildOpsmop(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("make build: %v\n%s", err, msg)
	}
	return filepath.Join(dir, "opsmop")
}

// logf prints progress to stderr at once; the tables go to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
