package policy

import (
	"errors"
	"fmt"
	"strconv"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Position is a place in a policy file.
type Position struct {
	File      string
	Line, Col int
}

// String formats the position as "file:line:col", leaving out the parts
// that are unknown.
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return p.File + ":" + strconv.Itoa(p.Line)
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// Error is a mistake in a policy, located in the policy file.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	return Position{e.File, e.Line, e.Col}.String() + ": " + e.Msg
}

// Pos returns where the error is.
func (e *Error) Pos() Position { return Position{e.File, e.Line, e.Col} }

func errorAt(pos Position, format string, args ...any) *Error {
	return &Error{File: pos.File, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)}
}

// ServeError is a refusal to read a file on behalf of a resource
// (from_file, from_template): the path escapes the policy folder, is under
// .git, is the policy itself, or is an editor backup.
type ServeError struct {
	Path   string // as written in the policy
	Reason string
}

func (e *ServeError) Error() string {
	return fmt.Sprintf("refusing to read %q: %s", e.Path, e.Reason)
}

// TemplateError is a failure to parse or render a Jinja2 template or
// expression. Line is 0 when gonja did not say.
type TemplateError struct {
	Name string // template name, or `expression "..."`
	Line int
	Msg  string
}

func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.Name, e.Line, e.Msg)
	}
	return e.Name + ": " + e.Msg
}

// callSites maps the position of a call's opening parenthesis (which is
// what Starlark records for a call) to where the call expression starts,
// so that `    File(...)` is reported at the F, where a reader looks.
type callSites map[[2]int32]syntax.Position

func findCallSites(f *syntax.File) callSites {
	cs := callSites{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if call, ok := n.(*syntax.CallExpr); ok {
			cs[[2]int32{call.Lparen.Line, call.Lparen.Col}] = syntax.Start(call)
		}
		return true
	})
	return cs
}

func (cs callSites) position(p syntax.Position) Position {
	if start, ok := cs[[2]int32{p.Line, p.Col}]; ok {
		p = start
	}
	return Position{File: p.Filename(), Line: int(p.Line), Col: int(p.Col)}
}

// convertError turns whatever Starlark returned into an *Error located in
// file. Errors that already are *Error (raised by our builtins with an
// exact position) pass through unchanged.
func convertError(err error, file string, cs callSites) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	var serr syntax.Error
	if errors.As(err, &serr) {
		return &Error{File: file, Line: int(serr.Pos.Line), Col: int(serr.Pos.Col), Msg: serr.Msg}
	}
	var rerrs resolve.ErrorList
	if errors.As(err, &rerrs) && len(rerrs) > 0 {
		e := rerrs[0]
		return &Error{File: file, Line: int(e.Pos.Line), Col: int(e.Pos.Col), Msg: e.Msg}
	}
	var eerr *starlark.EvalError
	if errors.As(err, &eerr) {
		pos := Position{File: file}
		for i := len(eerr.CallStack) - 1; i >= 0; i-- {
			fr := eerr.CallStack[i]
			if fr.Pos.Filename() == file {
				pos = cs.position(fr.Pos)
				break
			}
		}
		return &Error{File: pos.File, Line: pos.Line, Col: pos.Col, Msg: eerr.Msg}
	}
	return &Error{File: file, Msg: err.Error()}
}
