package policy

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Policy is an evaluated policy file.
type Policy struct {
	Path      string         // as given to Load
	Dir       string         // the policy's folder (absolute); relative paths resolve against it
	Variables map[string]any // Policy(variables=...)
	Roles     []*Role

	rt *runtime
}

// policyValue is the Starlark face of Policy(...).
type policyValue struct {
	roles     []*Role
	variables map[string]any
	pos       Position
}

func (v *policyValue) String() string        { return "Policy(...)" }
func (v *policyValue) Type() string          { return "Policy" }
func (v *policyValue) Freeze()               {}
func (v *policyValue) Truth() starlark.Bool  { return true }
func (v *policyValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: Policy") }

// fileOptions turns on the Starlark features a Python user expects:
// top-level if/for, while, recursion, set() and reassigning globals.
var fileOptions = &syntax.FileOptions{
	Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true,
}

// predeclared holds the builtins every policy sees.
var predeclared = func() starlark.StringDict {
	d := starlark.StringDict{
		"Policy":        starlark.NewBuiltin("Policy", policyBuiltin),
		"Role":          starlark.NewBuiltin("Role", roleBuiltin),
		"T":             starlark.NewBuiltin("T", tBuiltin),
		"Eval":          starlark.NewBuiltin("Eval", evalBuiltin),
		"TomlInventory": starlark.NewBuiltin("TomlInventory", tomlInventoryBuiltin),
	}
	for _, s := range specs {
		d[s.ctor] = s.builtin()
	}
	return d
}()

// Load evaluates the Starlark policy at path. The file must bind exactly
// one global to a Policy(...) value. Every error is an *Error.
func Load(path string) (*Policy, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read policy: %v", errors.Unwrap(err))}
	}
	return loadSource(path, src)
}

// loadSource is Load of src, read from path.
func loadSource(path string, src []byte) (*Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	rt := &runtime{file: path, dir: filepath.Dir(abs)}
	f, prog, err := starlark.SourceProgramOptions(fileOptions, path, src, predeclared.Has)
	if err != nil {
		return nil, convertError(err, path, nil)
	}
	rt.cs = findCallSites(f)
	globals, err := prog.Init(rt.newThread("load"), predeclared)
	globals.Freeze() // from here on, threads may share every value
	if err != nil {
		return nil, convertError(err, path, rt.cs)
	}
	pv, err := findPolicy(path, globals)
	if err != nil {
		return nil, err
	}
	return &Policy{Path: path, Dir: rt.dir, Variables: pv.variables, Roles: pv.roles, rt: rt}, nil
}

// findPolicy returns the one global bound to a Policy value.
func findPolicy(path string, globals starlark.StringDict) (*policyValue, error) {
	var names []string
	for name, v := range globals {
		if _, ok := v.(*policyValue); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return nil, &Error{File: path, Msg: `no Policy: bind one global to it, as in policy = Policy(roles=[...])`}
	case 1:
		return globals[names[0]].(*policyValue), nil
	}
	return nil, &Error{File: path, Msg: fmt.Sprintf("%d globals are Policy values (%s): keep exactly one", len(names), strings.Join(names, ", "))}
}

func policyBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var roles starlark.Value = starlark.NewList(nil)
	var vars starlark.Value = starlark.None
	if len(args) > 0 {
		return nil, fmt.Errorf("Policy: takes keyword arguments only (roles=[...], variables={...})")
	}
	for _, kv := range kwargs {
		switch k := string(kv[0].(starlark.String)); k {
		case "roles":
			roles = kv[1]
		case "variables":
			vars = kv[1]
		default:
			return nil, fmt.Errorf("Policy: unknown parameter %q", k)
		}
	}
	pv := &policyValue{variables: map[string]any{}, pos: threadRuntime(thread).callerPos(thread)}
	seq, ok := roles.(starlark.Indexable)
	if !ok || roles.Type() == "string" {
		return nil, fmt.Errorf("Policy: roles must be a list of Role(...), not %s", roles.Type())
	}
	seen := map[string]bool{}
	for i := 0; i < seq.Len(); i++ {
		rv, ok := seq.Index(i).(*roleValue)
		if !ok {
			return nil, fmt.Errorf("Policy: roles[%d] must be a Role(...), not %s", i, seq.Index(i).Type())
		}
		if seen[rv.r.Name] {
			return nil, fmt.Errorf("Policy: two roles are named %q", rv.r.Name)
		}
		seen[rv.r.Name] = true
		pv.roles = append(pv.roles, rv.r)
	}
	switch d := vars.(type) {
	case starlark.NoneType:
	case *starlark.Dict:
		m, err := dictToGo(d)
		if err != nil {
			return nil, fmt.Errorf("Policy: variables: %w", err)
		}
		pv.variables = m
	default:
		return nil, fmt.Errorf("Policy: variables must be a dict, not %s", vars.Type())
	}
	return pv, nil
}

func tBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var src string
	if err := starlark.UnpackPositionalArgs("T", args, kwargs, 1, &src); err != nil {
		return nil, err
	}
	rt := threadRuntime(thread)
	t := &Template{Src: src, Pos: rt.callerPos(thread)}
	if err := parseTemplate("T", src); err != nil {
		return nil, err
	}
	return templateValue{t}, nil
}

func evalBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var expr string
	if err := starlark.UnpackPositionalArgs("Eval", args, kwargs, 1, &expr); err != nil {
		return nil, err
	}
	if _, err := parseExpr(expr); err != nil {
		return nil, fmt.Errorf("Eval: %w", err)
	}
	return evalValue{&Eval{Expr: expr, Pos: threadRuntime(thread).callerPos(thread)}}, nil
}

// Validate expands every role for a placeholder host (named "validate",
// with the policy variables, then extra, and no facts) and returns every
// error found, each positioned: expansion errors, signals naming no handler,
// and from_file / from_template paths that cannot be served.
func (p *Policy) Validate(extra map[string]any) error {
	var errs []error
	for _, r := range p.Roles {
		vars := make(map[string]any, len(p.Variables)+len(extra))
		maps.Copy(vars, p.Variables)
		maps.Copy(vars, extra)
		x, err := r.Expand(Host{Name: "validate", Vars: vars, Facts: map[string]any{}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, p.validateExpanded(r, x)...)
	}
	return errors.Join(errs...)
}

func (p *Policy) validateExpanded(r *Role, x *Expanded) []error {
	var errs []error
	names := map[string]bool{}
	all := append([]*Resource(nil), x.Resources...)
	for _, hd := range x.Handlers {
		names[hd.Name] = true
		all = append(all, hd.Resources...)
	}
	for _, res := range all {
		for _, s := range res.Signals {
			if !names[s] {
				errs = append(errs, errorAt(res.Pos, "%s: signals %q, but role %q has no such handler", res.Type, s, r.Name))
			}
		}
		errs = append(errs, p.validateSources(res)...)
	}
	return errs
}

// validateSources checks literal from_file and from_template paths the way
// a run will read them.
func (p *Policy) validateSources(res *Resource) []error {
	var errs []error
	for _, k := range []string{"from_file", "from_template"} {
		rel, ok := res.Params[k].(string)
		if !ok {
			continue
		}
		if _, err := p.ReadFile(rel); err != nil {
			errs = append(errs, errorAt(res.Pos, "%s: %s: %v", res.Type, k, err))
		}
	}
	return errs
}
