package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHOptions tune DialSSH. The zero value is usable.
type SSHOptions struct {
	// Binaries returns the worker binary for a GOARCH ("amd64", "arm64").
	// Default: DefaultBinaries.
	Binaries func(goarch string) (path string, err error)
	// KnownHosts is the known_hosts file. Default ~/.ssh/known_hosts.
	KnownHosts string
	// ConnectTimeout bounds TCP connect, SSH handshake and authentication.
	// Default 10s.
	ConnectTimeout time.Duration
	// Keepalive is the interval of keepalive@openssh.com requests; three
	// unanswered ones close the connection. Default 15s; negative disables.
	Keepalive time.Duration
	// Log receives the worker's stderr, one line at a time, prefixed with
	// the host name.
	Log io.Writer
}

func (o *SSHOptions) defaults() {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Keepalive == 0 {
		o.Keepalive = 15 * time.Second
	}
	if o.KnownHosts == "" {
		if home, err := os.UserHomeDir(); err == nil {
			o.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
}

// DialSSH connects to the host, starts the worker there (uploading it if
// the host does not have this build yet) and returns the worker's stdio.
// The SSH connection lives as long as the Conn.
func DialSSH(ctx context.Context, s ConnSettings, opts SSHOptions) (Conn, error) {
	opts.defaults()
	host := s.Name
	if host == "" {
		host = s.Address
	}
	bins, err := resolveBinaries(opts.Binaries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	start := time.Now()
	client, err := connect(ctx, s, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	stats := Stats{Connect: time.Since(start)}
	dead := newDeadReason()
	stopKeepalive := keepalive(client, opts.Keepalive, dead.set)
	go watchDrop(client, dead)

	c, err := startWorker(ctx, client, host, s, bins, opts.Log, false, stats)
	if errors.Is(err, errNeedTTY) {
		c, err = startWorker(ctx, client, host, s, bins, opts.Log, true, stats)
		if c != nil {
			c.stats.RoundTrips++ // the first, refused command
		}
	}
	if err != nil {
		stopKeepalive()
		client.Close()
		return nil, err
	}
	c.dead = dead
	c.keepalive = max(opts.Keepalive, 0)
	inner := c.closer
	c.closer = func() error {
		err := inner()
		stopKeepalive()
		client.Close()
		return err
	}
	return c, nil
}

// watchDrop records why the SSH connection ended when it was not us who
// ended it: without it, a connection reset reads as the worker's EOF.
func watchDrop(client *ssh.Client, dead *deadReason) {
	err := client.Wait()
	if errors.Is(err, net.ErrClosed) {
		return // our own Close
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("the other end closed it")
	}
	dead.set(fmt.Errorf("the SSH connection dropped: %w", err))
}

// connect dials and authenticates, within ConnectTimeout and ctx.
func connect(ctx context.Context, s ConnSettings, opts SSHOptions) (*ssh.Client, error) {
	port := s.Port
	if port == 0 {
		port = 22
	}
	user := s.User
	if user == "" {
		user = currentUser()
	}
	cfg := &ssh.ClientConfig{User: user, Timeout: opts.ConnectTimeout}
	mode := s.CheckHostKeys
	if mode == "" {
		mode = "true"
	}
	if err := (hostKeyPolicy{mode: mode, file: opts.KnownHosts}).apply(cfg, s.Address, port); err != nil {
		return nil, err
	}
	cfg.Auth = authMethods(s)

	release, err := acquireHandshake(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	addr := net.JoinHostPort(s.Address, strconv.Itoa(port))
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	// The SSH handshake has no context: a deadline and a watcher bound it.
	if dl, ok := ctx.Deadline(); ok {
		tcp.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		tcp.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	sc, chans, reqs, err := ssh.NewClientConn(tcp, addr, cfg)
	if !stop() {
		// The watcher ran, perhaps just after the handshake finished: its
		// past deadline would break the connection later, so it is a
		// timeout now.
		<-fired
		if err == nil {
			sc.Close()
			err = ctx.Err()
		}
	}
	if err != nil {
		tcp.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh handshake with %s: timed out after %s", addr, opts.ConnectTimeout)
		}
		return nil, fmt.Errorf("ssh to %s@%s: %w", user, addr, err)
	}
	tcp.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// handshakeSlots bounds the SSH handshakes in progress. Key exchange is
// CPU work on both ends; hundreds at once on a small controller make each
// one slow enough to hit its timeout, while a bounded number finish quickly
// and the rest wait their turn before their timeout starts.
var handshakeSlots = make(chan struct{}, 32*runtime.NumCPU())

func acquireHandshake(ctx context.Context) (release func(), err error) {
	select {
	case handshakeSlots <- struct{}{}:
		return func() { <-handshakeSlots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to connect: %w", ctx.Err())
	}
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

// authMethods: ssh-agent and identity files (one publickey method, agent
// keys first), then the password, also for keyboard-interactive.
func authMethods(s ConnSettings) []ssh.AuthMethod {
	var methods []ssh.AuthMethod
	files := identityFiles(s.IdentityFiles)
	methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		var signers []ssh.Signer
		seen := map[string]bool{}
		add := func(ss ...ssh.Signer) {
			for _, sg := range ss {
				k := string(sg.PublicKey().Marshal())
				if !seen[k] {
					seen[k] = true
					signers = append(signers, sg)
				}
			}
		}
		add(agentSigners()...)
		add(fileSigners(files)...)
		return signers, nil
	}))
	if s.Password != nil {
		pw := *s.Password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return methods
}

func identityFiles(extra []string) []string {
	var files []string
	if home, err := os.UserHomeDir(); err == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			files = append(files, filepath.Join(home, ".ssh", n))
		}
	}
	for _, f := range extra {
		if len(f) > 1 && f[:2] == "~/" {
			if home, err := os.UserHomeDir(); err == nil {
				f = filepath.Join(home, f[2:])
			}
		}
		files = append(files, f)
	}
	return files
}

// agentSigners asks ssh-agent for its keys; no agent means no keys.
func agentSigners() []ssh.Signer {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil
	}
	// The connection stays open: the signers use it to sign.
	signers, err := agent.NewClient(c).Signers()
	if err != nil {
		c.Close()
		return nil
	}
	return signers
}

// fileSigners loads unencrypted private keys; missing or encrypted files
// are skipped (an encrypted key belongs in ssh-agent).
func fileSigners(files []string) []ssh.Signer {
	var signers []ssh.Signer
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sg, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			continue
		}
		signers = append(signers, sg)
	}
	return signers
}

// keepalive sends keepalive@openssh.com every interval and closes the
// client when three in a row go unanswered, so a dead peer ends the run
// for this host instead of hanging it.
func keepalive(c *ssh.Client, every time.Duration, dead func(error)) (stop func()) {
	if every < 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			replied := make(chan error, 1)
			go func() {
				_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
				replied <- err
			}()
			select {
			case err := <-replied:
				if err != nil {
					return // the connection is gone already: watchDrop says why
				}
			case <-time.After(3 * every):
				dead(fmt.Errorf("no answer to keepalives for %s: the connection stalled", 3*every))
				c.Close()
				return
			case <-done:
				return
			}
		}
	}()
	var once bool
	return func() {
		if !once {
			once = true
			close(done)
		}
	}
}

// ptyModes make sshd create the terminal in raw mode, before the command
// runs, so no byte sent to the worker is ever echoed or translated.
var ptyModes = ssh.TerminalModes{
	ssh.ECHO: 0, ssh.ECHOE: 0, ssh.ECHOK: 0, ssh.ECHONL: 0, ssh.ECHOCTL: 0, ssh.ECHOKE: 0,
	ssh.ICANON: 0, ssh.ISIG: 0, ssh.IEXTEN: 0,
	ssh.ICRNL: 0, ssh.INLCR: 0, ssh.IGNCR: 0, ssh.IXON: 0, ssh.IXOFF: 0, ssh.IXANY: 0, ssh.ISTRIP: 0, ssh.IMAXBEL: 0,
	ssh.OPOST: 0, ssh.ONLCR: 0, ssh.OCRNL: 0,
	ssh.CS8: 1, ssh.PARENB: 0,
	ssh.TTY_OP_ISPEED: 115200, ssh.TTY_OP_OSPEED: 115200,
}

// startWorker opens a session channel, runs the bootstrap command on it and
// waits until the worker is ready. The exec request does not wait for its
// reply: the script's first line answers it, which saves a round trip.
func startWorker(ctx context.Context, client *ssh.Client, host string, s ConnSettings, bins *binarySet, log io.Writer, tty bool, stats Stats) (*conn, error) {
	sudo := sudoSpec{Enabled: s.Sudo, User: s.SudoUser, Password: s.SudoPassword != nil}
	if sudo.Password {
		sudo.Prompt = newPrompt()
	}
	st := remoteStart(bins.hashes(), sudo, tty)

	ch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: open session: %w", host, err)
	}
	exited := make(chan error, 1)
	go watchExit(reqs, exited)
	if tty {
		req := ssh.Marshal(ptyRequest{Term: "dumb", Columns: 80, Rows: 24, Modes: encodeModes(ptyModes)})
		ok, err := ch.SendRequest("pty-req", true, req)
		if err != nil || !ok {
			ch.Close()
			return nil, fmt.Errorf("%s: sudo requires a tty and the server refused a pty: %v", host, err)
		}
	}
	if _, err := ch.SendRequest("exec", false, ssh.Marshal(struct{ Command string }{st.command})); err != nil {
		ch.Close()
		return nil, fmt.Errorf("%s: start remote command: %w", host, err)
	}
	p := &proc{
		host:   host,
		stdin:  ch,
		stdout: ch,
		log:    log,
		wait:   func() error { return <-exited },
		kill:   ch.Close,
	}
	if !tty {
		p.stderr = ch.Stderr()
	} else {
		go io.Copy(io.Discard, ch.Stderr())
	}
	m := &bootMachine{host: host, sudo: sudo, hasPassword: sudo.Password, tty: tty, start: st, archErr: bins.archError}
	c, err := bootstrap(ctx, p, m, s.SudoPassword, bins, stats)
	if err != nil {
		return nil, err
	}
	c.closer = func() error {
		if tty {
			// A terminal has no half-close: hang up, which sends the
			// worker SIGHUP.
			return ignoreEOF(ch.Close())
		}
		// EOF on the worker's stdin tells it to exit, and sshd lets it:
		// no need to wait a round trip for its exit status (the results
		// are all in), which at the end of a run is time a person waits.
		ch.CloseWrite()
		return ignoreEOF(ch.Close())
	}
	return c, nil
}

func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

type ptyRequest struct {
	Term    string
	Columns uint32
	Rows    uint32
	Width   uint32
	Height  uint32
	Modes   string
}

func encodeModes(m ssh.TerminalModes) string {
	var b []byte
	for k, v := range m {
		b = append(b, k, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return string(append(b, 0)) // TTY_OP_END
}

// ExitError is the remote command's exit status.
type ExitError struct {
	Status int
	Signal string
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	return "exit status " + strconv.Itoa(e.Status)
}

// watchExit answers the channel's requests and reports how the command
// ended: nil for status 0, *ExitError otherwise.
func watchExit(reqs <-chan *ssh.Request, exited chan<- error) {
	var result error = io.ErrUnexpectedEOF
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			var st struct{ Status uint32 }
			if ssh.Unmarshal(r.Payload, &st) == nil {
				result = nil
				if st.Status != 0 {
					result = &ExitError{Status: int(st.Status)}
				}
			}
		case "exit-signal":
			var sig struct {
				Signal     string
				CoreDumped bool
				Msg, Lang  string
			}
			if ssh.Unmarshal(r.Payload, &sig) == nil {
				result = &ExitError{Status: -1, Signal: sig.Signal}
			}
		}
		if r.WantReply {
			r.Reply(false, nil)
		}
	}
	exited <- result
}

// deadReason keeps why the transport gave up on a connection, for the
// error a person reads instead of a bare EOF.
type deadReason struct {
	mu   sync.Mutex
	err  error
	done chan struct{} // closed once err is set
}

func newDeadReason() *deadReason { return &deadReason{done: make(chan struct{})} }

func (d *deadReason) set(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
		close(d.done)
	}
}

// wait returns the reason, waiting up to patience for one: the worker's
// stream ends a moment before the SSH client reports the dropped
// connection behind it.
func (d *deadReason) wait(patience time.Duration) error {
	select {
	case <-d.done:
	case <-time.After(patience):
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}
