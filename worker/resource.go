package worker

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/opsmop/opsmop/protocol"
)

// Env is what a resource may use while it plans and applies.
type Env struct {
	Check bool // plan only: change nothing
	Diff  bool // put a unified diff of content changes in the result
	// Emit streams one line of command output to the controller as it happens.
	Emit func(stream, line string)
	// Fetch opens content held by the controller.
	Fetch func(ctx context.Context, ref protocol.ContentRef) (io.ReadCloser, error)
	// Facts is the worker's fact cache; resources that change what facts
	// describe (packages, users) invalidate it.
	Facts *FactCache
}

// Resource is one resource type's behaviour on the host. Plan runs query
// commands only and returns the actions needed ("create", "chmod", ...);
// an empty plan means the resource is already as it should be. Apply takes
// exactly the planned actions and is never called in check mode.
type Resource interface {
	Plan(ctx context.Context, env *Env) ([]string, error)
	Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error)
}

// Factory builds a resource from its name and parameters, rejecting unknown
// parameters and wrong types before anything runs.
type Factory func(name string, p Params) (Resource, error)

var factories = map[string]Factory{}

// Register makes a resource type available; called from init functions.
func Register(typ string, f Factory) {
	if _, dup := factories[typ]; dup {
		panic("worker: resource type registered twice: " + typ)
	}
	factories[typ] = f
}

// Types lists the registered resource types.
func Types() []string {
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Build makes the resource described by r.
func Build(r protocol.Resource) (Resource, error) {
	f, ok := factories[r.Type]
	if !ok {
		return nil, fmt.Errorf("unknown resource type %q", r.Type)
	}
	p := NewParams(r.Type, r.Params)
	res, err := f(r.Name, p)
	if err != nil {
		return nil, err
	}
	if err := p.checkUnknown(); err != nil {
		return nil, err
	}
	return res, nil
}
