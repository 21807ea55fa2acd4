package policy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
)

// Scope is a set of variables made ready to render many templates and
// evaluate many expressions: the variables go into a template context once,
// not once per template. A push run renders a few dozen templates per host
// with the same variables, and the copy of every fact into gonja's context
// cost more than rendering.
//
// The variables are only read, also after NewScope: the caller must not
// change the map while the Scope is in use. A Scope may be used from many
// goroutines at once.
type Scope struct {
	vars map[string]any

	once sync.Once
	ctx  *exec.Context // vars on top of gonja's globals; only read
}

// NewScope returns a Scope of vars.
func NewScope(vars map[string]any) *Scope { return &Scope{vars: vars} }

// Vars returns the variables of the scope, for reading.
func (s *Scope) Vars() map[string]any { return s.vars }

// environment returns a fresh gonja environment whose context holds the
// variables on top of gonja's globals. The context of each call is a new
// child of the shared one, so what a render or an evaluation writes (self,
// {% set %}) lands there and concurrent renders stay apart.
func (s *Scope) environment() *exec.Environment {
	d := gonja.DefaultEnvironment
	s.once.Do(func() {
		// Update copies vars into the new context: vars is only read.
		s.ctx = d.Context.Inherit().Update(exec.NewContext(s.vars))
	})
	return &exec.Environment{
		Context:           s.ctx.Inherit(),
		Filters:           d.Filters,
		Tests:             d.Tests,
		ControlStructures: d.ControlStructures,
		Methods:           d.Methods,
	}
}

// Render renders the Jinja2 template src, named name in errors. The parsed
// template is cached: a push run renders the same sources for every host,
// and parsing (lexing included) costs several times the render.
func (s *Scope) Render(name, src string) (_ string, err error) {
	defer recoverEngine(&err, "template ", name)
	loader := noIncludes{name, src}
	t, err := templates.get(templateKey{name, src}, func() (*exec.Template, error) {
		return newTemplate(name, src, loader)
	})
	if err != nil {
		return "", templateError("template "+name, err)
	}
	// What Template.Execute does, with the scope's context in place of a
	// copy of the variables for each template.
	var out strings.Builder
	r := exec.NewRenderer(s.environment(), &out, jinjaConfig(), loader, t)
	if err := r.Execute(); err != nil {
		return "", templateError("template "+name, fmt.Errorf("unable to execute template: %w", err))
	}
	return out.String(), nil
}

// EvalExpr evaluates a Jinja2 expression such as `result.rc == 0` and
// returns its value as a plain Go value (int64, float64, string, bool,
// []any, map[string]any or nil).
func (s *Scope) EvalExpr(expr string) (_ any, err error) {
	defer recoverEngine(&err, "", expr)
	node, err := exprs.get(expr, func() (nodes.Expression, error) { return parseExpr(expr) })
	if err != nil {
		return nil, err
	}
	ev := &exec.Evaluator{Config: jinjaConfig(), Environment: s.environment()}
	v := ev.Eval(node)
	if v.IsError() {
		return nil, templateError(exprName(expr), v)
	}
	out, err := nativeChecked(v)
	if err != nil {
		return nil, templateError(exprName(expr), err)
	}
	return out, nil
}

// Resolve returns v with every *Template rendered and every *Eval
// evaluated, recursively through []any and map[string]any. v itself is not
// modified.
func (s *Scope) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case *Template:
		return s.Render(x.Name(), x.Src)
	case *Eval:
		return s.EvalExpr(x.Expr)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := s.Resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := s.Resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}
