package policy

import (
	"fmt"

	"go.starlark.net/starlark"
)

type condKind int

const (
	condUnset condKind = iota
	condBool
	condExpr
	condFunc
)

// Cond is a `when=` condition: unset (true), a bool, a Jinja2 expression
// (a string or Eval("...")), or a Starlark function of the host.
type Cond struct {
	kind condKind
	b    bool
	expr string
	fn   starlark.Callable
	rt   *runtime // to call fn and position its errors
}

// BoolCond and ExprCond build conditions from Go, for callers and tests.
func BoolCond(b bool) Cond      { return Cond{kind: condBool, b: b} }
func ExprCond(expr string) Cond { return Cond{kind: condExpr, expr: expr} }
func (c Cond) IsSet() bool      { return c.kind != condUnset }

// IsFunc reports whether the condition is a Starlark function, which may
// read any variable.
func (c Cond) IsFunc() bool { return c.kind == condFunc }

// Source is the condition as the user wrote it, for display.
func (c Cond) Source() string {
	switch c.kind {
	case condBool:
		if c.b {
			return "True"
		}
		return "False"
	case condExpr:
		return c.expr
	case condFunc:
		return fmt.Sprintf("<function %s>", c.fn.Name())
	}
	return ""
}

// Test decides the condition for host h, whose Vars should be the merged
// variables at this point of the run (registered results included).
func (c Cond) Test(h Host) (bool, error) {
	switch c.kind {
	case condBool:
		return c.b, nil
	case condExpr:
		v, err := EvalExpr(c.expr, h.Vars)
		if err != nil {
			return false, fmt.Errorf("when: %w", err)
		}
		return Truthy(v), nil
	case condFunc:
		v, err := c.rt.callHost(c.fn, h)
		if err != nil {
			return false, err
		}
		return bool(v.Truth()), nil
	}
	return true, nil
}

// parseCond reads a `when=` argument.
func parseCond(rt *runtime, what string, v starlark.Value) (Cond, error) {
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return Cond{}, nil
	case starlark.Bool:
		return Cond{kind: condBool, b: bool(x)}, nil
	case starlark.String:
		if _, err := parseExpr(string(x)); err != nil {
			return Cond{}, fmt.Errorf("%s: %w", what, err)
		}
		return Cond{kind: condExpr, expr: string(x)}, nil
	case evalValue:
		if _, err := parseExpr(x.e.Expr); err != nil {
			return Cond{}, fmt.Errorf("%s: %w", what, err)
		}
		return Cond{kind: condExpr, expr: x.e.Expr}, nil
	case starlark.Callable:
		if err := checkHostFunc(what, x); err != nil {
			return Cond{}, err
		}
		return Cond{kind: condFunc, fn: x, rt: rt}, nil
	}
	return Cond{}, fmt.Errorf("%s must be True/False, a Jinja expression string, Eval or a function of host, not %s", what, v.Type())
}

// checkHostFunc rejects, at load time, functions that cannot be called
// with the single `host` argument.
func checkHostFunc(what string, c starlark.Callable) error {
	f, ok := c.(*starlark.Function)
	if !ok {
		return nil
	}
	ordinary := f.NumParams()
	if f.HasVarargs() {
		ordinary--
	}
	if f.HasKwargs() {
		ordinary--
	}
	positional := ordinary - f.NumKwonlyParams()
	requiredPos, requiredKw := 0, 0
	for i := 0; i < ordinary; i++ {
		if f.ParamDefault(i) != nil {
			continue
		}
		if i < positional {
			requiredPos++
		} else {
			requiredKw++
		}
	}
	if (positional >= 1 || f.HasVarargs()) && requiredPos <= 1 && requiredKw == 0 {
		return nil
	}
	return fmt.Errorf("%s: function %s must take one argument (host)", what, f.Name())
}
