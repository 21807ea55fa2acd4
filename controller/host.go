package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/opsmop/opsmop/controller/transport"
	"github.com/opsmop/opsmop/internal/buildinfo"
	"github.com/opsmop/opsmop/inventory"
	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// hostRun is one host's state for the whole run: its worker sessions, facts,
// the variables its resources Set or registered, and its counts.
type hostRun struct {
	r   *runner
	inv *inventory.Host

	mu        sync.Mutex
	sessions  map[string]*workerSession // by connKey
	vars      map[string]any            // Set and registered results, across roles
	stats     HostStats
	started   time.Time
	dead      bool  // failed or unreachable: later roles skip it
	policyErr error // the first error that was the policy's fault
	index     int
}

// workerSession is a connection to one worker process.
type workerSession struct {
	conn  io.ReadWriteCloser
	sess  *protocol.Session
	facts map[string]any
	// announced delivers the worker's announce, the first thing it sends.
	announced chan announced
}

// announced is a worker's announce, or why it could not be read.
type announced struct {
	protocol.Announce
	err error
}

func newWorkerSession(conn io.ReadWriteCloser, sess *protocol.Session) *workerSession {
	return &workerSession{conn: conn, sess: sess, announced: make(chan announced, 1)}
}

// serveCalls takes what the worker sends unasked until the session ends:
// its announce, once, and calls for file content.
func (ws *workerSession) serveCalls(content *contentStore) {
	for {
		in, err := ws.sess.Accept()
		if err != nil {
			return
		}
		if in.Method == protocol.MethodAnnounce {
			ws.takeAnnounce(in)
			continue
		}
		go content.answer(in)
	}
}

func (ws *workerSession) takeAnnounce(in *protocol.Incoming) {
	defer in.Close()
	var a announced
	a.err = in.Decode(&a.Announce)
	select {
	case ws.announced <- a:
	default: // a second announce is not the worker's first word
	}
}

func newHostRun(r *runner, h *inventory.Host) *hostRun {
	return &hostRun{r: r, inv: h, sessions: map[string]*workerSession{}, vars: map[string]any{}}
}

// Target is what a Dialer needs to reach a host.
type Target struct {
	Host     *inventory.Host
	Settings inventory.ConnSettings
}

// Dialer opens the byte stream to a host's worker.
type Dialer func(ctx context.Context, t Target) (io.ReadWriteCloser, error)

// DefaultDialer reaches "local" hosts through a child process and the rest
// over SSH; worker log lines go to log.
func DefaultDialer(log io.Writer) Dialer {
	return func(ctx context.Context, t Target) (io.ReadWriteCloser, error) {
		s := t.Settings
		if s.Connection == "local" {
			return transport.DialLocal(ctx, transport.LocalOptions{Sudo: s.Sudo, SudoUser: s.SudoUser, SudoPassword: s.SudoPassword, Log: log})
		}
		return transport.DialSSH(ctx, s, transport.SSHOptions{Log: log, Keepalive: s.Keepalive})
	}
}

func (h *hostRun) settings(role *policy.Role) (inventory.ConnSettings, error) {
	rc := inventory.RoleConn{Sudo: role.Sudo, CheckHostKeys: role.CheckHostKeys}
	if role.SSHAs != nil {
		rc.SSHAs = &inventory.Credential{User: role.SSHAs.User, Password: role.SSHAs.Password}
	}
	if role.SudoAs != nil {
		rc.SudoAs = &inventory.Credential{User: role.SudoAs.User, Password: role.SudoAs.Password}
	}
	s, err := inventory.Resolve(h.inv, rc, h.r.opts.Defaults)
	if err != nil {
		return s, err
	}
	if h.r.opts.AskedSSHPassword != nil && s.Password == nil {
		s.Password = h.r.opts.AskedSSHPassword
	}
	if h.r.opts.AskedSudoPassword != nil && s.SudoPassword == nil {
		s.SudoPassword = h.r.opts.AskedSudoPassword
	}
	return s, nil
}

// session returns the worker session for a role's connection settings,
// connecting on first use. Roles with the same settings share it.
func (h *hostRun) session(ctx context.Context, role *policy.Role) (*workerSession, error) {
	s, err := h.settings(role)
	if err != nil {
		return nil, &PolicyError{Err: fmt.Errorf("host %s: %w", h.inv.Name, err)}
	}
	key := s.Key()
	h.mu.Lock()
	ws := h.sessions[key]
	h.mu.Unlock()
	if ws != nil {
		return ws, nil
	}
	ws, err = h.connect(ctx, s)
	if err != nil {
		return nil, err
	}
	h.r.report(Event{Kind: EvConnected, Host: h.inv.Name, Role: role.Name, Line: describeConn(s)})
	h.mu.Lock()
	h.sessions[key] = ws
	h.mu.Unlock()
	return ws, nil
}

func (h *hostRun) connect(ctx context.Context, s inventory.ConnSettings) (*workerSession, error) {
	conn, err := h.r.dial(ctx, Target{Host: h.inv, Settings: s})
	if err != nil {
		return nil, err // transport errors name the host already
	}
	sess, err := protocol.Client(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ws := newWorkerSession(conn, sess)
	go ws.serveCalls(h.r.content)
	if err := h.handshake(ctx, ws); err != nil {
		ws.close()
		return nil, err
	}
	return ws, nil
}

// handshake waits for the worker's announce, its hello and facts, which it
// sends unasked as soon as it starts: no round trip of the host's own.
func (h *hostRun) handshake(ctx context.Context, ws *workerSession) error {
	local := protocol.Hello{Version: protocol.Version, BuildHash: expectedWorkerHash(ws.conn)}
	var a announced
	select {
	case a = <-ws.announced:
	case <-ws.sess.Done():
		return fmt.Errorf("start worker on %s: %w", h.inv.Name, ws.endCause(errNoAnnounce))
	case <-ctx.Done():
		return fmt.Errorf("start worker on %s: wait for its hello: %w", h.inv.Name, ctx.Err())
	}
	if a.err == nil {
		a.err = a.Check(local)
	}
	if a.err != nil {
		return fmt.Errorf("start worker on %s: %w", h.inv.Name, a.err)
	}
	if a.FactsErr != "" {
		return fmt.Errorf("gather facts on %s: %s", h.inv.Name, a.FactsErr)
	}
	ws.facts = a.Facts
	return nil
}

// errNoAnnounce: the session ended before the worker said who it is, and
// the transport knows no more (the worker exited).
var errNoAnnounce = errors.New("the worker ended the session before it said hello")

// endCause is the transport's own reason the session ended (a stalled or
// dropped connection) where it has one, else what the protocol saw.
func (ws *workerSession) endCause(protocolErr error) error {
	if c, ok := ws.conn.(interface{ Cause() error }); ok {
		if cause := c.Cause(); cause != nil {
			return cause
		}
	}
	return protocolErr
}

// expectedWorkerHash is the build the worker must report: the one the
// transport started (a worker-only build over SSH), else, for a local
// worker, our own binary; none for a local worker that runs this very
// executable.
func expectedWorkerHash(conn io.ReadWriteCloser) string {
	if s, ok := conn.(interface{ SameBuild() bool }); ok && s.SameBuild() {
		return "" // runs this very executable: nothing to check
	}
	if w, ok := conn.(interface{ WorkerHash() string }); ok && w.WorkerHash() != "" {
		return w.WorkerHash()
	}
	if _, ok := conn.(transport.Conn); !ok {
		return "" // an in-process worker in tests: same code, no binary
	}
	h, _ := buildinfo.Hash()
	return h
}

// workerKeepalive is the interval at which the worker is asked to ping
// the controller: the transport's keepalive, or none.
func workerKeepalive(conn io.ReadWriteCloser) time.Duration {
	if k, ok := conn.(interface{ Keepalive() time.Duration }); ok {
		return k.Keepalive()
	}
	return 0
}

func (h *hostRun) refreshFacts(ctx context.Context, ws *workerSession) error {
	var facts protocol.FactsReply
	h.countCall()
	if err := ws.sess.Call(ctx, protocol.MethodFacts, protocol.FactsRequest{Refresh: true}, &facts); err != nil {
		return fmt.Errorf("gather facts on %s: %w", h.inv.Name, err)
	}
	ws.facts = facts.Facts
	return nil
}

// close ends the session. No shutdown call: the end of its stdin is the
// worker's signal to clean up and exit. Over SSH nothing waits for that
// exit (the results are all in), so closing costs no round trip; a local
// worker is waited for, which costs none either.
func (ws *workerSession) close() {
	ws.sess.Close()
	ws.conn.Close()
}

func (h *hostRun) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, ws := range h.sessions {
		ws.close()
		addTransportStats(&h.stats, ws.conn) // keep its counts for the summary
		delete(h.sessions, k)
	}
}

// addTransportStats adds what the transports counted (bytes, round trips).
func addTransportStats(st *HostStats, conn io.ReadWriteCloser) {
	c, ok := conn.(transport.Conn)
	if !ok {
		return
	}
	ts := c.Stats()
	st.BytesSent += ts.BytesSent
	st.WorkerBytes += ts.WorkerBytesSent
	st.RoundTrips += ts.RoundTrips
}

func (h *hostRun) countCall() {
	h.mu.Lock()
	h.stats.Calls++
	h.mu.Unlock()
}

func (h *hostRun) nextIndex() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.index++
	return h.index
}

func (h *hostRun) statsSnapshot() HostStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	for _, ws := range h.sessions {
		addTransportStats(&st, ws.conn)
	}
	return st
}

// notePolicyError keeps the first error that was the policy's fault (a
// template, condition, variable or file source), which makes the run's
// exit code say "fix the policy" rather than "a resource failed".
func (h *hostRun) notePolicyError(err error) {
	h.mu.Lock()
	if h.policyErr == nil {
		h.policyErr = err
	}
	h.mu.Unlock()
}

// countIgnored counts a failure that ignore_errors let pass.
func (h *hostRun) countIgnored() {
	h.mu.Lock()
	h.stats.Ignored++
	h.mu.Unlock()
}

func (h *hostRun) count(status string, actions int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch status {
	case protocol.StatusOK:
		h.stats.OK++
	case protocol.StatusChanged:
		h.stats.Changed++
		h.stats.Actions += actions
	case protocol.StatusFailed:
		h.stats.Failed++
	case protocol.StatusSkipped:
		h.stats.Skipped++
	}
}

// describeConn says how a host was reached and where each setting came
// from, for --verbose: never a password, only where one came from.
func describeConn(s inventory.ConnSettings) string {
	var b strings.Builder
	if s.Connection == "local" {
		b.WriteString("local worker")
	} else {
		fmt.Fprintf(&b, "%s@%s:%d", s.User, s.Address, s.Port)
	}
	if s.Sudo {
		fmt.Fprintf(&b, ", sudo to %s", s.SudoUser)
	}
	var from []string
	for _, f := range inventory.SourceFields {
		if src := s.Sources[f]; src != "" && src != "default" {
			from = append(from, f+" from "+src)
		}
	}
	if len(from) > 0 {
		b.WriteString(" (" + strings.Join(from, ", ") + ")")
	}
	return b.String()
}
