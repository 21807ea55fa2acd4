package transport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a byte stream to a worker. Closing it closes the worker's stdin,
// which makes the worker exit.
type Conn interface {
	io.ReadWriteCloser
	Stats() Stats
}

// Stats describes what setting up and using a Conn cost.
type Stats struct {
	BytesSent, BytesReceived int64 // everything written to / read from the worker's stdio, bootstrap included
	WorkerBytesSent          int64 // compressed worker binary bytes sent (0 on a warm start)
	WorkerCached             bool  // the host already had the worker binary
	// RoundTrips counts the exchanges with the host between starting the
	// remote command and the worker being ready: each remote command
	// started, each binary upload and each password answer waits for the
	// host once. A warm start is 1. (Opening the SSH channel itself costs one
	// more network round trip that is not counted here.)
	RoundTrips int
	Connect    time.Duration // TCP + SSH handshake + authentication
	Bootstrap  time.Duration // from starting the remote command to the worker being ready
}

// proc is a started worker command: a local child or an SSH channel.
type proc struct {
	host   string
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader // nil on a pty: stderr is merged into stdout
	wait   func() error
	kill   func() error // stop everything; safe to call more than once
	log    io.Writer
}

// countingWriter counts bytes written.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// conn is the Conn returned by both dialers.
type conn struct {
	r      io.Reader
	w      io.Writer
	p      *proc
	sent   atomic.Int64
	recv   atomic.Int64
	stats  Stats
	closer func() error
	once   sync.Once
	err    error
	dead   *deadReason // why the transport gave up, if it did

	workerHash string        // the build the bootstrap script verified and started
	sameBuild  bool          // a local worker started from this very executable
	keepalive  time.Duration // the SSH keepalive interval; zero for a local pipe
}

// SameBuild says the worker runs this very executable (a local worker
// started through /proc/<pid>/exe): its build needs no checking.
func (c *conn) SameBuild() bool { return c.sameBuild }

// WorkerHash is the sha256 of the worker the host runs, which the worker
// must report in its hello; empty for a local worker (our own binary).
func (c *conn) WorkerHash() string { return c.workerHash }

// Keepalive is the interval at which the SSH connection is kept alive,
// and at which the worker should ping back: the host's sshd cannot tell a
// stalled network or a dead controller from a quiet one. Zero for a local
// worker, whose pipes close with the controller.
func (c *conn) Keepalive() time.Duration { return c.keepalive }

// Cause says why the transport ended (a stalled peer, a dropped
// connection), or nil. It is asked after the worker's stream has failed,
// and may wait a moment for the SSH client to say why.
func (c *conn) Cause() error {
	if c.dead == nil {
		return nil
	}
	return c.dead.wait(causePatience)
}

// causePatience is how long Cause waits for a reason: a failure path only,
// and generous so that a loaded machine still names the cause.
const causePatience = time.Second

func (c *conn) Read(b []byte) (int, error) { return c.r.Read(b) }

// countingReader counts bytes read.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *conn) Write(b []byte) (int, error) { return c.w.Write(b) }

func (c *conn) Close() error {
	c.once.Do(func() { c.err = c.closer() })
	return c.err
}

func (c *conn) Stats() Stats {
	s := c.stats
	s.BytesSent = c.sent.Load()
	s.BytesReceived = c.recv.Load()
	return s
}

// bootstrap drives the script and sudo until the worker is ready, then
// returns the conn. On failure the process is killed.
func bootstrap(ctx context.Context, p *proc, m *bootMachine, password *string, bins *binarySet, stats Stats) (*conn, error) {
	c := &conn{p: p, stats: stats}
	c.w = countingWriter{w: p.stdin, n: &c.sent}
	start := time.Now()
	events := make(chan event, 16)
	done := make(chan struct{})
	defer close(done)

	split := &lineSplitter{prompt: []byte(m.sudo.Prompt)}
	if !m.sudo.Password {
		split.prompt = nil
	}
	// Small: the worker's replies are small, and yamux buffers its reads
	// again; 32 KiB here was 1.4 MB of a 50-host run's memory.
	stdout := bufio.NewReaderSize(countingReader{r: p.stdout, n: &c.recv}, 4<<10)
	go readUntilReady(stdout, split, events, done)
	stderrDone := make(chan struct{})
	if p.stderr != nil {
		go func() {
			defer close(stderrDone)
			readStderr(p.stderr, &lineSplitter{prompt: split.prompt}, events, done, p.log, p.host)
		}()
	} else {
		close(stderrDone)
	}
	c.stats.RoundTrips++ // the remote command itself
	if err := c.perform(m.begin(), password, bins); err != nil {
		p.kill()
		return nil, err
	}

	for {
		var ev event
		select {
		case ev = <-events:
		case <-ctx.Done():
			p.kill()
			return nil, fmt.Errorf("%s: start worker: %w", p.host, ctx.Err())
		}
		if ev.kind == evStdoutLine {
			// stdout lines that are not the script's are diagnostics
			// (sudo's own messages on a pty): log them
			if !isScriptLine(ev.line) {
				logLine(p.log, p.host, ev.line)
			}
		}
		if ev.kind == evExit {
			ev.exit = finish(p, m, events, stderrDone, ev.exit)
		}
		act, err := m.handle(ev)
		if err == nil {
			err = c.perform(act, password, bins)
		}
		if err != nil {
			p.kill()
			return nil, err
		}
		switch act.kind {
		case actSendScript, actSendPassword, actSendBinary:
			c.stats.RoundTrips++ // an answer to the host: it waited for it
		case actReady:
			c.workerHash = act.arg
			c.stats.WorkerCached = c.stats.WorkerBytesSent == 0
			c.stats.Bootstrap = time.Since(start)
			c.r = io.MultiReader(bytes.NewReader(ev.rest), stdout)
			return c, nil
		}
	}
}

// perform sends what an action of the boot machine asks the host for.
func (c *conn) perform(act action, password *string, bins *binarySet) error {
	switch act.kind {
	case actSendScript:
		if _, err := io.WriteString(c.w, act.arg); err != nil {
			return fmt.Errorf("%s: send bootstrap script: %w", c.p.host, err)
		}
	case actSendPassword:
		if _, err := io.WriteString(c.w, *password+"\n"); err != nil {
			return fmt.Errorf("%s: send sudo password: %w", c.p.host, err)
		}
	case actSendBinary:
		return c.sendBinary(act.arg, bins)
	}
	return nil
}

func (c *conn) sendBinary(arg string, bins *binarySet) error {
	sha, codec := needArgs(arg)
	b := bins.bySHA(sha)
	if b == nil {
		return &BootstrapError{Host: c.p.host, Msg: "host asked for unknown worker " + sha}
	}
	up, err := b.upload(codec)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(up); err != nil {
		return fmt.Errorf("%s: send worker binary: %w", c.p.host, err)
	}
	c.stats.WorkerBytesSent += int64(len(up))
	return nil
}

// finish collects what the host said last before the command ended (stderr
// may trail stdout) and its exit status, so the error can name the cause.
func finish(p *proc, m *bootMachine, events <-chan event, stderrDone <-chan struct{}, readErr error) error {
	timeout := time.After(2 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.kind == evStderrLine || ev.kind == evStdoutLine {
				m.remember(ev.line)
			}
			continue
		case <-stderrDone:
		case <-timeout:
		}
		break
	}
	for {
		select {
		case ev := <-events:
			if ev.kind == evStderrLine || ev.kind == evStdoutLine {
				m.remember(ev.line)
			}
			continue
		default:
		}
		break
	}
	if readErr != nil || p.wait == nil {
		return readErr
	}
	waited := make(chan error, 1)
	go func() { waited <- p.wait() }()
	select {
	case err := <-waited:
		return err
	case <-time.After(2 * time.Second):
		return nil
	}
}

func isScriptLine(l string) bool {
	for _, p := range []string{lineReady, lineNeed, lineArch, lineErr, lineScript} {
		if len(l) >= len(p) && l[:len(p)] == p {
			return true
		}
	}
	return false
}

// readUntilReady splits stdout into events until the ready line, then stops
// reading so the rest of the stream is left for the worker.
func readUntilReady(r io.Reader, s *lineSplitter, events chan<- event, done <-chan struct{}) {
	buf := make([]byte, 4096)
	send := func(ev event) bool {
		select {
		case events <- ev:
			return true
		case <-done:
			return false
		}
	}
	for {
		// Bytes after the ready line belong to the worker: the splitter
		// hands them back in the ready event.
		n, err := r.Read(buf)
		for _, ev := range s.feed(buf[:n], evStdoutLine) {
			if !send(ev) {
				return
			}
			if ev.kind == evStdoutLine && isReady(ev.line) {
				return
			}
		}
		if err != nil {
			for _, ev := range s.flush(evStdoutLine) {
				send(ev)
			}
			send(event{kind: evExit, exit: errOrNil(err)})
			return
		}
	}
}

func errOrNil(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// readStderr turns stderr into events until the worker is ready, and into
// log lines always.
func readStderr(r io.Reader, s *lineSplitter, events chan<- event, done <-chan struct{}, log io.Writer, host string) {
	buf := make([]byte, 4096)
	booting := true
	for {
		n, err := r.Read(buf)
		evs := s.feed(buf[:n], evStderrLine)
		if err != nil {
			evs = append(evs, s.flush(evStderrLine)...)
		}
		for _, ev := range evs {
			if ev.kind == evStderrLine {
				logLine(log, host, ev.line)
			}
			if booting {
				select {
				case events <- ev:
				case <-done:
					booting = false
				}
			}
		}
		if err != nil {
			return
		}
	}
}

var logMu sync.Mutex

func logLine(w io.Writer, host, line string) {
	if w == nil || line == "" {
		return
	}
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(w, "%s: %s\n", host, line)
}

// needArgs splits a NEED line's "<sha256> [codec]"; a host that names no
// codec gets gzip.
func needArgs(arg string) (sha, codec string) {
	sha, codec, _ = strings.Cut(strings.TrimSpace(arg), " ")
	if codec != codecZstd {
		codec = codecGzip
	}
	return sha, codec
}
