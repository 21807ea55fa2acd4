package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

// ServeOptions configure a worker session.
type ServeOptions struct {
	// BuildHash identifies this binary in the handshake.
	BuildHash string
	// Log receives the worker's own log lines (stderr, which the controller
	// shows as log lines). Nil discards them.
	Log io.Writer
}

// server is one controller session.
type server struct {
	sess  *protocol.Session
	opts  ServeOptions
	facts FactCache
	temps *tempTracker
	// shutdown is closed by the shutdown call.
	shutdown     chan struct{}
	shutdownOnce sync.Once

	watchOnce sync.Once // the first run call that asks for pings starts the watch
}

// Serve answers the controller's calls on conn until the session ends: the
// controller calls shutdown, conn reaches EOF or fails (the controller went
// away), or ctx ends (SIGTERM). Each call runs in its own goroutine on its
// own stream. When the session ends, Serve cancels running commands, waits
// for the calls to return, removes temporary files a write left behind, and
// returns nil; an error means the session could not start. The worker
// speaks first: it announces its hello and facts before it is asked.
func Serve(ctx context.Context, conn io.ReadWriteCloser, opts ServeOptions) error {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	sess, err := protocol.Server(conn)
	if err != nil {
		return err
	}
	s := &server{sess: sess, opts: opts, temps: newTempTracker(), shutdown: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = withTempTracker(ctx, s.temps)

	// Whatever ends first ends the session: ctx, a shutdown call, or the
	// transport.
	go func() {
		select {
		case <-ctx.Done():
		case <-s.shutdown:
		case <-sess.Done():
		}
		cancel()
		sess.Close()
	}()

	var calls sync.WaitGroup
	calls.Go(func() { s.announce(ctx) })
	for {
		in, err := sess.Accept()
		if err != nil {
			if s.ended() {
				break
			}
			// One bad stream does not end the session.
			fmt.Fprintf(opts.Log, "worker: %v\n", err)
			continue
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			s.handle(ctx, in)
		}()
	}
	cancel()
	calls.Wait()
	s.temps.removeAll()
	conn.Close()
	return nil
}

func (s *server) ended() bool {
	select {
	case <-s.sess.Done():
		return true
	default:
		return false
	}
}

// ServeStdio serves one session on the process's stdin and stdout. The
// protocol stream must be the only thing ever written to stdout, so
// os.Stdout is pointed at opts.Log when that is a file, else at stderr, for
// the rest of the process: a stray print cannot corrupt the stream.
// SIGTERM, SIGHUP and SIGINT end the session as the controller going away
// does.
func ServeStdio(ctx context.Context, opts ServeOptions) error {
	out := os.Stdout
	os.Stdout = os.Stderr
	if f, ok := opts.Log.(*os.File); ok {
		// With a terminal as stdio (sudo's requiretty) stderr is the
		// stream's terminal too; the log file is the safe place.
		os.Stdout = f
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	defer stop()
	return Serve(ctx, stdio{in: pollable(os.Stdin), out: pollable(out)}, opts)
}

// stdio joins stdin and stdout into one connection.
type stdio struct {
	in  *os.File
	out *os.File
}

func (s stdio) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s stdio) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s stdio) Close() error {
	return errors.Join(s.in.Close(), s.out.Close())
}

// handle answers one call.
func (s *server) handle(ctx context.Context, in *protocol.Incoming) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(s.opts.Log, "worker: panic in %s call: %v\n%s", in.Method, v, debug.Stack())
			in.Reply(nil, fmt.Errorf("worker: internal error in %s: %v", in.Method, v))
		}
	}()
	switch in.Method {
	case protocol.MethodHello:
		if _, err := protocol.AnswerHello(in, s.hello()); err != nil {
			fmt.Fprintf(s.opts.Log, "worker: handshake: %v\n", err)
		}
	case protocol.MethodFacts:
		var req protocol.FactsRequest
		if err := in.Decode(&req); err != nil {
			in.Reply(nil, err)
			return
		}
		facts, err := s.facts.Get(ctx, req.Refresh)
		in.Reply(protocol.FactsReply{Facts: facts}, err)
	case protocol.MethodRun:
		s.run(ctx, in)
	case protocol.MethodShutdown:
		in.Reply(struct{}{}, nil)
		s.shutdownOnce.Do(func() { close(s.shutdown) })
	default:
		in.Reply(nil, fmt.Errorf("worker does not answer %q", in.Method))
	}
}

// announce sends the controller our hello and facts unasked: it needs both
// before anything else, and asking would cost every host a round trip.
// Facts that cannot be gathered are announced as the error instead.
func (s *server) announce(ctx context.Context) {
	a := protocol.Announce{Hello: s.hello()}
	facts, err := s.facts.Get(ctx, false)
	if err != nil {
		a.FactsErr = err.Error()
	}
	a.Facts = facts
	if err := s.sess.Announce(ctx, a); err != nil && !s.ended() {
		fmt.Fprintf(s.opts.Log, "worker: %v\n", err)
	}
}

func (s *server) hello() protocol.Hello {
	h := protocol.Hello{Version: protocol.Version, BuildHash: s.opts.BuildHash, PID: os.Getpid(), Arch: runtime.GOARCH}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	return h
}

// run runs the requested resources in order, streaming events.
func (s *server) run(ctx context.Context, in *protocol.Incoming) {
	var req protocol.RunRequest
	if err := in.Decode(&req); err != nil {
		in.Reply(nil, err)
		return
	}
	s.watchController(req.KeepAlive)
	stopped := false
	for _, r := range req.Resources {
		if stopped || ctx.Err() != nil {
			in.Event(protocol.Event{Kind: protocol.EventResult, ID: r.ID, Result: &protocol.Result{
				Status: protocol.StatusSkipped, Msg: "not run: an earlier resource failed"}})
			continue
		}
		if err := in.Event(protocol.Event{Kind: protocol.EventStart, ID: r.ID}); err != nil {
			return // the controller is gone; the session will end
		}
		env := &Env{
			Check: req.Check,
			Diff:  req.Diff,
			Emit:  s.emitter(in, r.ID),
			Fetch: func(ctx context.Context, ref protocol.ContentRef) (io.ReadCloser, error) {
				return fetch(ctx, s.sess, ref)
			},
			Facts: &s.facts,
		}
		res := runResource(ctx, env, r)
		if err := in.Event(protocol.Event{Kind: protocol.EventResult, ID: r.ID, Result: res}); err != nil {
			return
		}
		if res.Failed && !r.IgnoreErrors {
			stopped = true
		}
	}
	in.Reply(struct{}{}, nil)
}

// watchController pings the controller every interval, as the run call
// asks, and ends the session when it has gone silent: on a stalled network
// or a dead controller machine, sshd would otherwise keep this worker (and
// the command it runs) until TCP gives up. Ending the session cancels the
// running command, as a controller that closes the connection does.
func (s *server) watchController(every time.Duration) {
	if every <= 0 {
		return
	}
	// The interval is the connection's, the same in every run call.
	s.watchOnce.Do(func() {
		s.sess.WatchPeer(every, func(err error) {
			fmt.Fprintf(s.opts.Log, "worker: the controller is gone (%v): ending the session\n", err)
		})
	})
}

// emitter streams output lines of resource id as events.
func (s *server) emitter(in *protocol.Incoming, id int) func(stream, line string) {
	return func(stream, line string) {
		in.Event(protocol.Event{Kind: protocol.EventOutput, ID: id, Stream: stream, Line: line})
	}
}

// planDetailer is implemented by resources that know more after planning
// than the action list: File's content diff, Shell's command. Check mode
// reports it although Apply never runs.
type planDetailer interface {
	planDetail(res *protocol.Result)
}

// runResource builds, plans and, unless in check mode, applies one
// resource. Every error, a panic included, becomes a failed result: one
// broken resource never takes the worker down.
func runResource(ctx context.Context, env *Env, r protocol.Resource) (res *protocol.Result) {
	defer func() {
		if v := recover(); v != nil {
			res = failed(fmt.Errorf("internal error in %s resource: %v", r.Type, v))
		}
	}()
	rs, err := Build(r)
	if err != nil {
		return failed(err)
	}
	return planApply(ctx, env, rs)
}

// planApply plans rs and, unless in check mode, applies the plan.
func planApply(ctx context.Context, env *Env, rs Resource) *protocol.Result {
	plan, err := rs.Plan(ctx, env)
	if err != nil {
		return failed(err)
	}
	res := &protocol.Result{}
	if d, ok := rs.(planDetailer); ok {
		d.planDetail(res)
	}
	if (!env.Check || runsInCheck(rs)) && len(plan) > 0 {
		ares, err := rs.Apply(ctx, env, plan)
		merge(res, ares)
		if err != nil {
			res.Failed = true
			res.Msg = err.Error()
		}
		if ctx.Err() != nil && res.Failed {
			res.Msg = "cancelled: the controller went away"
		}
	}
	res.Actions = plan
	res.Changed = len(plan) > 0
	res.Status = res.StatusFromFlags()
	return res
}

// checkRunner is implemented by resources that may run in check mode: a
// Shell the policy marks read-only (check_mode=False), whose result later
// resources read.
type checkRunner interface {
	runsInCheck() bool
}

func runsInCheck(rs Resource) bool {
	c, ok := rs.(checkRunner)
	return ok && c.runsInCheck()
}

func failed(err error) *protocol.Result {
	return &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: err.Error()}
}

// merge copies what Apply reported over the planned result.
func merge(dst, src *protocol.Result) {
	if src == nil {
		return
	}
	keep := *dst
	*dst = *src
	if dst.Diff == "" {
		dst.Diff = keep.Diff
	}
	if dst.Cmd == "" {
		dst.Cmd = keep.Cmd
	}
}
