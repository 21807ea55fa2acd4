package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// flush sends the batch to the worker in one run call and handles the
// events it streams back. It reports whether every resource succeeded.
func (x *executor) flush(ctx context.Context, batch *[]*step) bool {
	steps := *batch
	*batch = nil
	if x.failed {
		return false
	}
	req := protocol.RunRequest{Check: x.h.r.opts.Check, Diff: x.h.r.opts.Diff, KeepAlive: workerKeepalive(x.ws.conn)}
	byID := make(map[int]*step, len(steps))
	for _, st := range steps {
		if st.local == nil {
			req.Resources = append(req.Resources, st.wire)
			byID[st.index] = st
		}
	}
	x.reportLocals(steps, 0)
	if len(req.Resources) == 0 {
		return !x.failed
	}
	x.h.countCall()
	stream, err := x.ws.sess.Open(ctx, protocol.MethodRun, req)
	if err != nil {
		return x.lostAny(byID, err)
	}
	defer stream.Close()
	changedFacts, ok := x.receive(stream, steps, byID)
	if ok && changedFacts {
		x.dropVars()
		if err := x.h.refreshFacts(ctx, x.ws); err != nil {
			return x.lostAny(byID, err)
		}
	}
	return ok && !x.failed
}

// receive handles the frames of one run call until its reply.
func (x *executor) receive(stream *protocol.Stream, steps []*step, byID map[int]*step) (changedFacts, ok bool) {
	for {
		var f protocol.Frame
		if err := stream.Recv(&f); err != nil {
			return false, x.lostAny(byID, err)
		}
		if f.Reply != nil {
			if err := protocol.DecodeReply(protocol.MethodRun, f.Reply, nil); err != nil {
				return false, x.lostAny(byID, err)
			}
			return changedFacts, true
		}
		if f.Event == nil {
			continue
		}
		st := byID[f.Event.ID]
		if st == nil {
			continue
		}
		if x.handle(st, f.Event) && changesFacts(st.res.Type) {
			changedFacts = true
		}
		if st.done {
			x.reportLocals(steps, st.pos+1)
		}
	}
}

// handle reports one worker event and returns whether it was a change.
func (x *executor) handle(st *step, ev *protocol.Event) bool {
	switch ev.Kind {
	case protocol.EventStart:
		x.h.r.report(x.event(EvResStart, st.res, st.index, nil))
	case protocol.EventOutput:
		e := x.event(EvOutput, st.res, st.index, nil)
		e.Stream, e.Line = ev.Stream, ev.Line
		x.h.r.report(e)
	case protocol.EventLog:
		x.h.r.report(Event{Kind: EvLog, Host: x.h.inv.Name, Line: ev.Line})
	case protocol.EventResult:
		if ev.Result == nil {
			return false
		}
		st.done = true
		x.finish(st.res, st.index, ev.Result)
		return ev.Result.Status == protocol.StatusChanged
	}
	return false
}

// changesFacts names the resource types after whose changes facts are
// gathered again, so later conditions see the new state.
func changesFacts(typ string) bool {
	return typ == "package" || typ == "user" || typ == "group" || typ == "service"
}

// finish applies changed_when and failed_when, records the result, and
// reports it. It returns whether the run may go on.
func (x *executor) finish(res *policy.Resource, idx int, r *protocol.Result) bool {
	if err := x.override(res, r); err != nil {
		r.Status, r.Failed, r.Msg = protocol.StatusFailed, true, err.Error()
	}
	x.register(res, r)
	if r.Status == protocol.StatusChanged {
		for _, s := range res.Signals {
			x.notified[s] = true
		}
	}
	if r.Status == protocol.StatusFailed && res.IgnoreErrors {
		x.h.countIgnored()
	} else {
		x.h.count(r.Status, len(r.Actions))
	}
	x.h.r.report(x.event(EvResult, res, idx, r))
	if r.Status == protocol.StatusFailed && !res.IgnoreErrors {
		x.failed = true
	}
	return !x.failed
}

// override applies changed_when and failed_when. They see the result as
// "result" and under the register name, and rc, stdout, stderr directly.
func (x *executor) override(res *policy.Resource, r *protocol.Result) error {
	if res.ChangedWhen == "" && res.FailedWhen == "" || r.Status == protocol.StatusSkipped {
		return nil
	}
	vars := x.vars()
	reg := registered(r)
	vars["result"] = reg
	for _, k := range []string{"rc", "stdout", "stderr"} {
		vars[k] = reg[k]
	}
	if res.Register != "" {
		vars[res.Register] = reg
	}
	if res.ChangedWhen != "" {
		v, err := policy.EvalExpr(res.ChangedWhen, vars)
		if err != nil {
			return fmt.Errorf("%s: changed_when: %w", res.Pos, err)
		}
		r.Changed = policy.Truthy(v)
		r.Status = r.StatusFromFlags()
	}
	if res.FailedWhen != "" {
		v, err := policy.EvalExpr(res.FailedWhen, vars)
		if err != nil {
			return fmt.Errorf("%s: failed_when: %w", res.Pos, err)
		}
		r.Failed = policy.Truthy(v)
		if r.Failed && r.Msg == "" {
			r.Msg = "failed_when is true: " + res.FailedWhen
		}
		r.Status = r.StatusFromFlags()
	}
	return nil
}

func (x *executor) register(res *policy.Resource, r *protocol.Result) {
	if res.Register != "" {
		x.setVar(res.Register, registered(r))
	}
}

// registered is the value a later resource sees under a register name.
func registered(r *protocol.Result) map[string]any {
	m := map[string]any{
		"status": r.Status, "changed": r.Status == protocol.StatusChanged, "failed": r.Status == protocol.StatusFailed,
		"skipped": r.Status == protocol.StatusSkipped, "rc": int64(r.RC), "stdout": trimEOL(r.Stdout), "stderr": trimEOL(r.Stderr),
		"stdout_lines": lines(r.Stdout), "msg": r.Msg, "actions": stringsAny(r.Actions),
	}
	if r.Data != nil {
		m["data"] = r.Data
	}
	return m
}

// trimEOL drops the final line ending, as Ansible does, so "{{ r.stdout }}"
// is the text a person sees.
func trimEOL(s string) string { return strings.TrimRight(s, "\r\n") }

func lines(s string) []any {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return []any{}
	}
	return stringsAny(strings.Split(s, "\n"))
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// lost handles a broken connection in the middle of a run.
func (x *executor) lost(st *step, err error) bool {
	r := &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: "lost the worker: " + x.lossCause(err).Error()}
	x.finish(st.res, st.index, r)
	x.h.mu.Lock()
	x.h.stats.Error = r.Msg
	x.h.mu.Unlock()
	return false
}

// lossCause prefers the transport's own reason (a stalled connection) to
// the bare EOF the protocol saw.
func (x *executor) lossCause(err error) error {
	var remote *protocol.RemoteError
	if errors.As(err, &remote) {
		return err // the worker answered: the connection is fine
	}
	return x.ws.endCause(err)
}

// lostAny charges the loss to the first resource still waiting for its result.
func (x *executor) lostAny(byID map[int]*step, err error) bool {
	var first *step
	for _, st := range byID {
		if !st.done && (first == nil || st.index < first.index) {
			first = st
		}
	}
	if first == nil {
		msg := "lost the worker: " + x.lossCause(err).Error() // may wait: not under the lock
		x.h.mu.Lock()
		x.h.stats.Error = msg
		x.h.mu.Unlock()
		return false
	}
	return x.lost(first, err)
}
