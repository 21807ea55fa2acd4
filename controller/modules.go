package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// Modules are resources that act on the controller's variables and output
// rather than on the host, so they never reach the worker.
var modules = map[string]func(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error){
	"echo":    runEcho,
	"debug":   runDebug,
	"set":     runSet,
	"asserts": runAsserts,
	"stop":    runStop,
}

// StreamMessage marks output lines that modules print for the user (Echo,
// Debug): shown even without --verbose.
const StreamMessage = "message"

func isModule(typ string) bool {
	_, ok := modules[typ]
	return ok
}

func (x *executor) runModule(res *policy.Resource) bool {
	idx := x.h.nextIndex()
	ok, err := x.test(res.When)
	if err != nil {
		return x.failPrep(res, idx, fmt.Errorf("%s: when: %w", res.Pos, err))
	}
	if !ok {
		x.skip(res, idx)
		return true
	}
	x.h.r.report(x.event(EvResStart, res, idx, nil))
	r, out, err := modules[res.Type](x, res, x.vars())
	if err != nil {
		r = &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: fmt.Sprintf("%s: %s", res.Pos, err)}
	}
	ok = x.finish(res, idx, r)
	for _, line := range out {
		e := x.event(EvOutput, res, idx, nil)
		e.Stream, e.Line = StreamMessage, line
		x.h.r.report(e)
	}
	return ok
}

func okResult() *protocol.Result { return &protocol.Result{Status: protocol.StatusOK} }

func runEcho(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error) {
	msg, err := renderParam(res.Params["msg"], "echo", vars)
	if err != nil {
		return nil, nil, err
	}
	r := okResult()
	r.Msg = msg
	return r, strings.Split(strings.TrimRight(msg, "\n"), "\n"), nil
}

func runDebug(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error) {
	names := namesOf(res.Params["names"])
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(vars))
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		v, ok := vars[n]
		if !ok {
			return nil, nil, fmt.Errorf("debug: undefined variable %q", n)
		}
		if secret(n) {
			out = append(out, n+" = <hidden>")
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = fmt.Appendf(nil, "%v", v)
		}
		out = append(out, n+" = "+string(b))
	}
	return okResult(), out, nil
}

// secret tells variables whose values Debug must not print: passwords from
// the inventory's magic variables or the user's own.
func secret(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

func runSet(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error) {
	set, _ := res.Params["vars"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		v, err := policy.Resolve(set[k], vars)
		if err != nil {
			return nil, nil, fmt.Errorf("set %s: %w", k, err)
		}
		x.setVar(k, v)
	}
	return okResult(), nil, nil
}

func runAsserts(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error) {
	for _, e := range namesOf(res.Params["expressions"]) {
		v, err := policy.EvalExpr(e, vars)
		if err != nil {
			return nil, nil, fmt.Errorf("assert %q: %w", e, err)
		}
		if !policy.Truthy(v) {
			r := &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: "assertion failed: " + e}
			return r, nil, nil
		}
	}
	return okResult(), nil, nil
}

// runStop ends this host's run: a failure, so that exit codes and the
// recap show that the policy asked to stop.
func runStop(x *executor, res *policy.Resource, vars map[string]any) (*protocol.Result, []string, error) {
	msg, err := renderParam(res.Params["msg"], "stop", vars)
	if err != nil {
		return nil, nil, err
	}
	x.stopped = true
	return &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: "stopped: " + msg}, nil, nil
}

// renderParam renders a message: a plain string is a template too, as in
// OpsMop's Echo.
func renderParam(v any, name string, vars map[string]any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return policy.Render(name, t, vars)
	case *policy.Template:
		return policy.Render(name, t.Src, vars)
	}
	r, err := policy.Resolve(v, vars)
	return fmt.Sprint(r), err
}

func namesOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}
