package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultPrefix names fleets whose Options leave Prefix empty.
const DefaultPrefix = "omt"

// Options describe a fleet to start.
type Options struct {
	Hosts int // number of hosts, 1 to MaxHosts
	// SudoPassword maps a host index to the sudo password of that host's
	// login user; other users have NOPASSWD sudo. The password is also the
	// user's SSH password.
	SudoPassword map[int]string
	// RequireTTY sets "Defaults:user requiretty" for that host's user.
	RequireTTY map[int]bool
	// Prefix starts every name the fleet creates (1-6 lowercase letters or
	// digits, default "omt"). A random id follows it, so fleets of parallel
	// test binaries never collide.
	Prefix string
	// PrivateRootCache gives each host's sshd, and so everything run
	// through it, its own /root/.cache: root's worker cache is then per
	// host, as on separate machines, instead of one that all hosts share
	// (they share this machine's file system). Benchmarks of a cold start
	// need it; the host side of it is Host.RootCacheDir.
	PrivateRootCache bool
	// SudoLog makes sudo log every command it runs for the hosts' users,
	// one line each, to Host.SudoLog.
	SudoLog bool
}

// Host is one test host: its own network namespace, address, sshd and
// login user. Hosts share the file system and the process table.
type Host struct {
	Name         string // "host<Index>", stable across runs
	Index        int
	Addr         string // IPv4 address inside the namespace, reachable from the root namespace
	Port         int    // sshd's port, 22
	User         string // the host's own login user, unique per host and fleet
	UID, GID     int
	Home         string // User's home directory, below Fleet.Dir
	KeyPath      string // User's ed25519 private key, mode 0600, owned by root
	SudoPassword string // "" for NOPASSWD
	HostKeyPub   string // the host's current ed25519 public key, "ssh-ed25519 AAAA..."
	Netns        string // network namespace name (also the user and veth name)
	SudoLog      string // sudo's log of the user's commands, with Options.SudoLog; else ""

	fleetDir         string
	privateRootCache bool
}

// Dir is a per-host scratch directory owned by root (mode 0755), where
// policies can write files whose state a test then checks.
func (h *Host) Dir() string { return filepath.Join(h.base(), "root") }

// HostPort is Addr:Port for dialing.
func (h *Host) HostPort() string { return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)) }

// Fleet is a running set of hosts. Close it.
type Fleet struct {
	Name       string // "<prefix><id>", starts every object name
	Hosts      []*Host
	Dir        string // /tmp/<Name>: keys, homes, sshd configs and logs
	KnownHosts string // known_hosts with every host's key as of Start
	// PrivateRootCache is Options.PrivateRootCache: each host has its
	// own /root/.cache, Host.RootCacheDir on this machine.
	PrivateRootCache bool

	block int
	mu    sync.Mutex
	sshd  map[int]*sshdProc
	done  bool
}

// Require fails t with the reason the fleet cannot run here (not root,
// tools missing), or skips t with that reason if OPSMOP_E2E_SKIP=1.
func Require(t testing.TB) {
	t.Helper()
	if err := Check(); err != nil {
		if os.Getenv("OPSMOP_E2E_SKIP") == "1" {
			t.Skipf("OPSMOP_E2E_SKIP=1: %v", err)
		}
		t.Fatal(err)
	}
}

// Start brings up a fleet: a bridge with a /22 of 10.213.0.0/16, and per
// host a namespace on a veth, a user with a key and sudoers rules, and a
// listening sshd. It first sweeps leftovers of dead fleets with the same
// prefix. On error everything created so far is removed.
func Start(ctx context.Context, opts Options) (_ *Fleet, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if err := validateOptions(opts); err != nil {
		return nil, err
	}
	// A leftover that cannot be removed must not stop this fleet, which
	// uses fresh names and a free address block; the next Sweep retries.
	_ = Sweep(opts.Prefix)

	f := &Fleet{sshd: map[int]*sshdProc{}, block: -1}
	for tries := 0; ; tries++ {
		name, err := newFleetName(opts.Prefix)
		if err != nil {
			return nil, err
		}
		if err = register(name); err == nil {
			f.Name = name
			break
		}
		if !errors.Is(err, errTaken) || tries == 20 {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	f.Dir = filepath.Join(os.TempDir(), f.Name)
	f.KnownHosts = filepath.Join(f.Dir, "known_hosts")
	if err := os.Mkdir(f.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	spreadHosts(f.Dir)
	// Debian's sshd refuses to start without its privilege separation dir,
	// which the service unit normally creates.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f.PrivateRootCache = opts.PrivateRootCache
	if opts.PrivateRootCache {
		if err := os.MkdirAll(rootCache, 0o700); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
	}
	if err := f.allocBridge(ctx); err != nil {
		return nil, err
	}
	for i := 0; i < opts.Hosts; i++ {
		obj := hostObjName(f.Name, i)
		h := &Host{
			Name: "host" + strconv.Itoa(i), Index: i,
			Addr: hostAddr(f.block, i).String(), Port: 22,
			User: obj, Netns: obj, SudoPassword: opts.SudoPassword[i],
			fleetDir: f.Dir, privateRootCache: opts.PrivateRootCache,
		}
		h.Home = filepath.Join(h.base(), "home")
		h.KeyPath = filepath.Join(h.base(), "id_ed25519")
		if opts.SudoLog {
			h.SudoLog = filepath.Join(h.base(), "sudo.log")
		}
		f.Hosts = append(f.Hosts, h)
	}
	authKeys := make([]string, len(f.Hosts))
	if err := parallel(len(f.Hosts), runtime.NumCPU()*2, func(i int) error {
		return f.writeHostFiles(f.Hosts[i], &authKeys[i])
	}); err != nil {
		return nil, err
	}
	if err := f.createNetwork(ctx); err != nil {
		return nil, err
	}
	if err := createUsers(ctx, f.Hosts); err != nil {
		return nil, err
	}
	if err := parallel(len(f.Hosts), runtime.NumCPU()*2, func(i int) error {
		return setupHome(f.Hosts[i], []byte(authKeys[i]+"\n"))
	}); err != nil {
		return nil, err
	}
	files := make([]string, len(f.Hosts))
	contents := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		files[i], contents[i] = sudoersName(f.Name, i), sudoersFor(h, opts.RequireTTY[i])
	}
	if err := writeSudoers(ctx, f.Dir, f.Hosts, files, contents); err != nil {
		return nil, err
	}
	if err := f.writeKnownHosts(); err != nil {
		return nil, err
	}
	if err := f.startAll(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

func validateOptions(o Options) error {
	if err := validatePrefix(o.Prefix); err != nil {
		return err
	}
	if o.Hosts < 1 || o.Hosts > MaxHosts {
		return fmt.Errorf("fleet: Options.Hosts is %d, want 1 to %d", o.Hosts, MaxHosts)
	}
	for i, pw := range o.SudoPassword {
		if i < 0 || i >= o.Hosts {
			return fmt.Errorf("fleet: Options.SudoPassword names host %d of a %d-host fleet", i, o.Hosts)
		}
		if pw == "" || strings.ContainsAny(pw, "\n\r:") {
			return fmt.Errorf("fleet: Options.SudoPassword for host %d must be non-empty without newline or colon", i)
		}
	}
	for i := range o.RequireTTY {
		if i < 0 || i >= o.Hosts {
			return fmt.Errorf("fleet: Options.RequireTTY names host %d of a %d-host fleet", i, o.Hosts)
		}
	}
	return nil
}

// writeHostFiles lays out a host's directory:
//
//	<Dir>/<Name>/id_ed25519{,.pub}  user key (root's)
//	<Dir>/<Name>/home               the user's home (created by newusers)
//	<Dir>/<Name>/root               scratch dir, Host.Dir
//	<Dir>/<Name>/sshd/              host key, sshd_config, sshd.log
func (f *Fleet) writeHostFiles(h *Host, authKey *string) error {
	for _, d := range []string{h.base(), h.Dir()} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
	}
	if err := os.Mkdir(filepath.Join(h.base(), "sshd"), 0o700); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	priv, pub, err := genKey(h.User + "@opsmop-e2e")
	if err != nil {
		return err
	}
	if err := writeFile(h.KeyPath, priv, 0o600); err != nil {
		return err
	}
	if err := writeFile(h.KeyPath+".pub", []byte(pub+"\n"), 0o644); err != nil {
		return err
	}
	*authKey = pub
	if err := writeHostKey(h); err != nil {
		return err
	}
	return writeFile(h.sshdConfigPath(), []byte(sshdConfig(h)), 0o600)
}

func (f *Fleet) writeKnownHosts() error {
	var b strings.Builder
	for _, h := range f.Hosts {
		if err := writeKnownHostsLine(&b, h); err != nil {
			return err
		}
	}
	return writeFile(f.KnownHosts, []byte(b.String()), 0o644)
}

func writeKnownHostsLine(b *strings.Builder, h *Host) error {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKeyPub))
	if err != nil {
		return fmt.Errorf("fleet: host key of %s: %w", h.Name, err)
	}
	b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.HostPort())}, pub))
	b.WriteByte('\n')
	return nil
}

// startAll starts every sshd, then waits for all of them at once.
func (f *Fleet) startAll(ctx context.Context) error {
	procs := make([]*sshdProc, len(f.Hosts))
	err := parallel(len(f.Hosts), runtime.NumCPU()*4, func(i int) error {
		p, err := startSSHD(f.Hosts[i])
		if err != nil {
			return err
		}
		procs[i] = p
		f.mu.Lock()
		f.sshd[i] = p
		f.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return parallel(len(f.Hosts), 64, func(i int) error {
		// One host proves the network path; the rest only need to listen.
		return procs[i].waitReady(f.Hosts[i], deadline, i == 0)
	})
}

// Close stops every sshd and every process in the fleet's namespaces or of
// its users, and removes namespaces, links, users, sudoers files and Dir.
// It is idempotent and safe after a failed Start.
func (f *Fleet) Close() error {
	if f == nil || f.Name == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return nil
	}
	for i, p := range f.sshd {
		p.cmd.Process.Kill()
		<-p.done
		delete(f.sshd, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	found, err := discover(ctx, f.Name[:len(f.Name)-idLen])
	o := found[f.Name]
	if o == nil {
		o = &objects{}
	}
	if err = errors.Join(err, destroy(ctx, f.Name, o)); err != nil {
		return err
	}
	f.done = true
	return nil
}

// Exec runs argv as root inside h's network namespace and returns its
// standard output; a failure includes its standard error.
func (f *Fleet) Exec(h *Host, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("fleet: Exec needs a command")
	}
	cmd := exec.Command(tool("ip"), append([]string{"netns", "exec", h.Netns}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("fleet: %s on %s: %w: %s", strings.Join(argv, " "), h.Name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// RotateHostKey gives h a new host key and restarts its sshd. HostKeyPub
// changes; the KnownHosts file keeps the old key, so a client checking it
// sees a changed host key.
func (f *Fleet) RotateHostKey(h *Host) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.sshd[h.Index]; p != nil {
		p.stop()
		delete(f.sshd, h.Index)
	}
	if err := writeHostKey(h); err != nil {
		return err
	}
	return f.startLocked(h)
}

// StopHost makes h unreachable: its sshd and every process in its namespace
// are killed, so connections are refused at once and open sessions drop.
// StartHost brings it back.
func (f *Fleet) StopHost(h *Host) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.sshd[h.Index]; p != nil {
		p.stop()
		delete(f.sshd, h.Index)
	}
	ino, err := nsInode(h.Netns)
	if err != nil {
		return fmt.Errorf("fleet: namespace of %s: %w", h.Name, err)
	}
	return killAll(map[uint64]bool{ino: true}, nil)
}

// StartHost restarts the sshd of a host stopped by StopHost.
func (f *Fleet) StartHost(h *Host) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sshd[h.Index] != nil {
		return nil
	}
	return f.startLocked(h)
}

func (f *Fleet) startLocked(h *Host) error {
	p, err := startSSHD(h)
	if err != nil {
		return err
	}
	f.sshd[h.Index] = p
	return p.waitReady(h, time.Now().Add(30*time.Second), true)
}
