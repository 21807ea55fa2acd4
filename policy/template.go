package policy

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// jinjaConfig is Jinja2's defaults with two changes: undefined variables
// are errors (a typo must not silently write an empty string into a
// config file) and a template's final newline is kept, so a file without
// any {{ }} is copied byte for byte.
func jinjaConfig() *config.Config {
	cfg := config.New()
	cfg.StrictUndefined = true
	cfg.KeepTrailingNewline = true
	return cfg
}

// noIncludes is the loader for inline templates: a template is one piece
// of text; include/extends/import would read files without the checks of
// Policy.ReadFile, so they are refused.
type noIncludes struct{ name, src string }

func (l noIncludes) Read(p string) (io.Reader, error) {
	if p == l.name {
		return strings.NewReader(l.src), nil
	}
	return nil, fmt.Errorf("include, import and extends are not supported (asked for %q)", p)
}
func (l noIncludes) Resolve(p string) (string, error)            { return p, nil }
func (l noIncludes) Inherit(from string) (loaders.Loader, error) { return l, nil }

// Render renders the Jinja2 template src, named name in errors, with vars.
func Render(name, src string, vars map[string]any) (string, error) {
	return NewScope(vars).Render(name, src)
}

// EvalExpr evaluates a Jinja2 expression such as `result.rc == 0` and
// returns its value as a plain Go value (int64, float64, string, bool,
// []any, map[string]any or nil).
func EvalExpr(expr string, vars map[string]any) (any, error) {
	return NewScope(vars).EvalExpr(expr)
}

// nativeChecked is native, failing on error values gonja leaves inside
// lists and dicts (it does not check list items: `[1, nope]` evaluates to
// a list holding an error).
func nativeChecked(v *exec.Value) (any, error) {
	var found error
	out := native(v)
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case error:
			if found == nil {
				found = y
			}
		case []any:
			for _, e := range y {
				walk(e)
			}
		case map[string]any:
			for _, e := range y {
				walk(e)
			}
		}
	}
	walk(out)
	return out, found
}

func exprName(expr string) string { return fmt.Sprintf("expression %q", expr) }

// parseExpr parses one Jinja2 expression; trailing tokens are an error.
func parseExpr(expr string) (nodes.Expression, error) {
	name := exprName(expr)
	if strings.TrimSpace(expr) == "" {
		return nil, &TemplateError{Name: name, Msg: "empty expression"}
	}
	if err := checkUTF8(expr); err != nil {
		te := templateError(name, err)
		te.Line = 0
		return nil, te
	}
	cfg := jinjaConfig()
	src := cfg.VariableStartString + " " + expr + " " + cfg.VariableEndString
	p := parser.NewParser(name, tokens.Lex(src, cfg), cfg, nil, gonja.DefaultEnvironment.ControlStructures)
	if p.Match(tokens.VariableBegin) == nil {
		return nil, &TemplateError{Name: name, Msg: "not an expression"}
	}
	node, err := p.ParseExpression()
	if err != nil {
		te := templateError(name, err)
		te.Line = 0 // the expression is one line, wrapped in {{ }} by us
		return nil, te
	}
	if tok := p.Current(); tok == nil || tok.Type != tokens.VariableEnd {
		near := ""
		if tok != nil {
			near = tok.Val
		}
		return nil, &TemplateError{Name: name, Msg: fmt.Sprintf("unexpected %q after the expression", near)}
	}
	return node, nil
}

// parseTemplate checks a template's syntax without rendering it.
func parseTemplate(name, src string) (err error) {
	defer recoverEngine(&err, "template ", name)
	if _, err := newTemplate(name, src, noIncludes{name, src}); err != nil {
		return templateError("template "+name, err)
	}
	return nil
}

var (
	undefinedName = regexp.MustCompile(`Unable to evaluate name "([^"]*)"`)
	undefinedAttr = regexp.MustCompile(`(?i)unable to evaluate (\S+): (?:attribute|item) '?([^' ]*)'? not found`)
	atLine        = regexp.MustCompile(`at line (\d+)`)
	syntaxPos     = regexp.MustCompile(`\(Line: (\d+) Col: \d+, near "[^"]*"\)$`)
)

// newTemplate parses a template with gonja, whose lexer never ends on some
// text that is not UTF-8: such a template is refused first, at its line.
func newTemplate(name, src string, loader loaders.Loader) (*exec.Template, error) {
	if err := checkUTF8(src); err != nil {
		return nil, err
	}
	return exec.NewTemplate(name, jinjaConfig(), loader, gonja.DefaultEnvironment)
}

// checkUTF8 says where src stops being UTF-8 text.
func checkUTF8(src string) error {
	if utf8.ValidString(src) {
		return nil
	}
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	line := strings.Count(src[:i], "\n") + 1
	return &parser.SyntaxError{Message: fmt.Sprintf("not UTF-8 text (byte %d)", i), Line: line}
}

// recoverEngine turns a panic inside gonja into a *TemplateError for the
// template "template "+name, or the expression name when kind is empty:
// gonja panics on some input (an integer divided by zero, say), and
// templates and expressions are the user's. Set as a deferred call of a
// function whose error result is *err; the name is only built on a panic,
// as renders run for every host.
func recoverEngine(err *error, kind, name string) {
	p := recover()
	if p == nil {
		return
	}
	msg := fmt.Sprint(p)
	if strings.Contains(msg, "divide by zero") {
		// Only % divides integers in gonja; a string counts as 0.
		msg = "modulo by zero (a string on either side counts as 0: for formatting use the format filter)"
	} else {
		msg = "the template engine failed: " + msg
	}
	if kind == "" {
		name = exprName(name)
	} else {
		name = kind + name
	}
	*err = &TemplateError{Name: name, Msg: msg}
}

// templateError turns gonja's wrapped error chain into one short line:
// gonja stacks "Unable to render expression at line 3: ..." frames, the
// innermost line number is the one the user wants.
func templateError(name string, err error) *TemplateError {
	var serr *parser.SyntaxError
	if asErr(err, &serr) {
		return &TemplateError{Name: name, Line: serr.Line, Msg: serr.Message}
	}
	msg := err.Error()
	line := 0
	if all := atLine.FindAllStringSubmatch(msg, -1); len(all) > 0 {
		line, _ = strconv.Atoi(all[len(all)-1][1])
	}
	switch {
	case undefinedName.MatchString(msg):
		m := undefinedName.FindStringSubmatch(msg)
		return &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("undefined variable %q", m[1])}
	case undefinedAttr.MatchString(msg):
		m := undefinedAttr.FindStringSubmatch(msg)
		return &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("undefined variable %q", m[1])}
	}
	if m := syntaxPos.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	// Keep only the innermost cause: the outer frames repeat the source.
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	return &TemplateError{Name: name, Line: line, Msg: msg}
}

func asErr(err error, target **parser.SyntaxError) bool {
	for e := err; e != nil; {
		if s, ok := e.(*parser.SyntaxError); ok {
			*target = s
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// native turns gonja's values into plain Go values with the same types
// toGo produces, so callers see one set of types whatever the source.
func native(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case *exec.Value:
		if x == nil || x.IsNil() {
			return nil
		}
		return native(x.Interface())
	case exec.ValuesList:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = native(e)
		}
		return out
	case *exec.Dict:
		out := make(map[string]any, len(x.Pairs))
		for _, p := range x.Pairs {
			out[fmt.Sprint(native(p.Key))] = native(p.Value)
		}
		return out
	case exec.Dict:
		return native(&x)
	case *Template, *Eval, error:
		return x
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = native(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = native(iter.Value().Interface())
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return native(rv.Elem().Interface())
	}
	return v
}

// Resolve returns v with every *Template rendered and every *Eval
// evaluated, recursively through []any and map[string]any. v itself is not
// modified.
func Resolve(v any, vars map[string]any) (any, error) {
	return NewScope(vars).Resolve(v)
}

// jinjaWords are names that are syntax, not variables.
var jinjaWords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "is": true, "if": true, "else": true, "elif": true,
	"endif": true, "for": true, "endfor": true, "set": true, "endset": true, "true": true, "false": true,
	"none": true, "True": true, "False": true, "None": true, "recursive": true, "with": true, "endwith": true,
	"macro": true, "endmacro": true, "call": true, "endcall": true, "filter": true, "endfilter": true,
	"raw": true, "endraw": true, "block": true, "endblock": true,
}

// Identifiers lists, without duplicates and in order of appearance, every
// identifier-looking name in a template or expression: inside {{ }} and
// {% %} for a template, the whole text for an expression. It errs on the
// side of listing too much (filter and test names appear too); string
// literals and attribute names after a dot are skipped.
func Identifiers(src string) []string {
	var parts []string
	if strings.Contains(src, "{{") || strings.Contains(src, "{%") {
		parts = codeParts(src)
	} else {
		parts = []string{src}
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range parts {
		for _, id := range scanIdents(p) {
			if !seen[id] && !jinjaWords[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// codeParts returns the text between {{ }} and {% %} delimiters.
func codeParts(src string) []string {
	var out []string
	for {
		i := strings.Index(src, "{")
		if i < 0 || i+1 >= len(src) {
			return out
		}
		var end string
		switch src[i+1] {
		case '{':
			end = "}}"
		case '%':
			end = "%}"
		default:
			src = src[i+1:]
			continue
		}
		rest := src[i+2:]
		j := strings.Index(rest, end)
		if j < 0 {
			return append(out, rest)
		}
		out = append(out, rest[:j])
		src = rest[j+2:]
	}
}

func scanIdents(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case isIdentStart(c):
			j := i
			for j < len(s) && (isIdentStart(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if !afterDot(s, i) {
				out = append(out, s[i:j])
			}
			i = j
		case c >= '0' && c <= '9':
			for i < len(s) && (isIdentStart(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func afterDot(s string, i int) bool {
	for i--; i >= 0 && (s[i] == ' ' || s[i] == '\t'); i-- {
	}
	return i >= 0 && s[i] == '.'
}
