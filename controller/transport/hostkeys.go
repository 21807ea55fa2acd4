package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostKeyError means the host is not in known_hosts and host keys
// are checked strictly.
type UnknownHostKeyError struct {
	Host        string // as written in known_hosts: host or [host]:port
	File        string
	Fingerprint string // SHA256:... of the key the host offered
	KeyType     string
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s is unknown (%s %s, not in %s): check the fingerprint and add it with `ssh-keyscan`, "+
		"or set check_host_keys = \"accept-new\" to record new hosts on first use", e.Host, e.KeyType, e.Fingerprint, e.File)
}

// HostKeyChangedError means the host offered a key other than the one
// recorded for it. It is always refused: it may be an attack.
type HostKeyChangedError struct {
	Host        string
	File        string // where the old key is recorded
	Line        int
	Fingerprint string // of the key the host offered now
	KeyType     string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("HOST KEY CHANGED for %s: it offered %s %s, which does not match the key recorded at %s:%d; "+
		"someone may be intercepting the connection. If the host was reinstalled, remove that line and connect again",
		e.Host, e.KeyType, e.Fingerprint, e.File, e.Line)
}

// hostKeyPolicy is how one host's key is checked.
type hostKeyPolicy struct {
	mode string // "true", "false", "accept-new"
	file string
}

// knownHostsAddr is the known_hosts form of an address: [host]:port when
// the port is not 22.
func knownHostsAddr(host string, port int) string {
	return knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))
}

// clientConfig fills the host key parts of cfg for host:port.
func (p hostKeyPolicy) apply(cfg *ssh.ClientConfig, host string, port int) error {
	if p.mode == "false" {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return nil
	}
	cb, err := p.callback()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	cfg.HostKeyAlgorithms = knownAlgorithms(cb, addr)
	cfg.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		return p.judge(err, addr, key)
	}
	return nil
}

// callback reads the known_hosts file; a missing file is an empty one.
func (p hostKeyPolicy) callback() (ssh.HostKeyCallback, error) {
	st, err := os.Stat(p.file)
	if errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	return knownHostsFiles.parse(p.file, identify(st))
}

// knownHostsFiles are the known_hosts files this process has parsed, shared
// by its connections: each host of a fleet parsed the whole file, so n hosts
// cost n times an n-line file. A file that changed since (a host recorded in
// accept-new mode, an edit) has another identity and is parsed again.
var knownHostsFiles = &parsedFiles{m: map[string]parsedFile{}}

// parseKnownHosts is knownhosts.New; a test counts its calls.
var parseKnownHosts = knownhosts.New

type parsedFiles struct {
	mu sync.Mutex
	m  map[string]parsedFile
}

type parsedFile struct {
	id fileIdentity
	cb ssh.HostKeyCallback
}

// fileIdentity changes whenever a file's content can have: any write sets
// the change time, which no program can set back.
type fileIdentity struct {
	ino, size    int64
	mtime, ctime syscall.Timespec
}

func identify(st os.FileInfo) fileIdentity {
	id := fileIdentity{size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino, id.mtime, id.ctime = int64(sys.Ino), sys.Mtim, sys.Ctim
	}
	return id
}

func (f *parsedFiles) parse(file string, id fileIdentity) (ssh.HostKeyCallback, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.m[file]; ok && p.id == id {
		return p.cb, nil
	}
	cb, err := parseKnownHosts(file)
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	f.m[file] = parsedFile{id: id, cb: cb}
	return cb, nil
}

// judge turns the knownhosts verdict into ours, recording new keys in
// accept-new mode.
func (p hostKeyPolicy) judge(err error, addr string, key ssh.PublicKey) error {
	if err == nil {
		return nil
	}
	name := knownhosts.Normalize(addr)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &revoked):
		return fmt.Errorf("host key of %s is revoked (%s:%d)", name, revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		old := keyErr.Want[0]
		for _, w := range keyErr.Want {
			if w.Key.Type() == key.Type() {
				old = w
				break
			}
		}
		return &HostKeyChangedError{Host: name, File: old.Filename, Line: old.Line,
			Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type()}
	case errors.As(err, &keyErr):
		if p.mode == "accept-new" {
			if err := appendKnownHost(p.file, name, key); err != nil {
				return fmt.Errorf("record host key of %s: %w", name, err)
			}
			return nil
		}
		return &UnknownHostKeyError{Host: name, File: p.file, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type()}
	}
	return err
}

// knownAlgorithms asks known_hosts which key types are recorded for addr,
// so the server is asked for one of those and a host known by its ed25519
// key is not refused for offering ecdsa first. It probes the callback with
// a key that cannot match: the KeyError lists the recorded keys.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	err := cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil // unknown host: let the server choose
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, w := range keyErr.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			// An RSA key is offered under its SHA-2 signature names.
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// probeKey is a public key that matches no recorded key.
type probeKey struct{}

func (probeKey) Type() string                        { return "opsmop-probe" }
func (probeKey) Marshal() []byte                     { return []byte("opsmop-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// appendKnownHost records key for name, under an exclusive lock so parallel
// connections to new hosts do not interleave their lines. A single append
// write of one line is atomic on local filesystems.
func appendKnownHost(file, name string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", file, err)
	}
	line := knownhosts.Line([]string{name}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsWithNewline(f, st.Size()) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return err
	}
	return f.Sync()
}

func endsWithNewline(f *os.File, size int64) bool {
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}
