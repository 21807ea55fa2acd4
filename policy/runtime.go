package policy

import (
	"fmt"

	"go.starlark.net/starlark"
)

// runtime is what builtins and callables need to know about the policy
// being run; it never changes after Load, so threads share it.
type runtime struct {
	file string // the policy path as given to Load; appears in positions
	dir  string // the policy's folder, absolute
	cs   callSites
}

const runtimeKey = "opsmop.policy"

func (rt *runtime) newThread(name string) *starlark.Thread {
	th := &starlark.Thread{
		Name: name,
		Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, fmt.Errorf("load() is not supported: keep the policy in one file")
		},
	}
	th.SetLocal(runtimeKey, rt)
	return th
}

func threadRuntime(th *starlark.Thread) *runtime {
	rt, _ := th.Local(runtimeKey).(*runtime)
	if rt == nil {
		// Only possible if a builtin is called from a thread we did not
		// make; keep positions empty rather than crash.
		return &runtime{}
	}
	return rt
}

// callerPos is where the builtin running on th was called from.
func (rt *runtime) callerPos(th *starlark.Thread) Position {
	if th.CallStackDepth() < 2 {
		return Position{File: rt.file}
	}
	return rt.cs.position(th.CallFrame(1).Pos)
}

// callHost calls fn(host) on a new thread and positions its errors.
func (rt *runtime) callHost(fn starlark.Callable, h Host) (starlark.Value, error) {
	hv, err := newHostValue(h)
	if err != nil {
		return nil, err
	}
	return rt.call(fn, hv)
}

func (rt *runtime) call(fn starlark.Callable, hv *hostValue) (starlark.Value, error) {
	th := rt.newThread("host " + hv.name)
	v, err := starlark.Call(th, fn, starlark.Tuple{hv}, nil)
	if err != nil {
		return nil, convertError(err, rt.file, rt.cs)
	}
	return v, nil
}
