package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzVars are the variables every fuzzed template and expression sees: one
// of each kind a policy passes in.
var fuzzVars = map[string]any{
	"name": "web1", "port": int64(8080), "ratio": 1.5, "on": true, "nothing": nil,
	"items":  []any{"a", int64(2), []any{"x"}},
	"result": map[string]any{"rc": int64(0), "stdout": "ok", "lines": []any{"l1", "l2"}},
}

// FuzzRender checks that any template renders or fails with a
// *TemplateError naming it, never a panic: templates come from users.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"plain\n", "{{ name }}:{{ port }}", "{% for i in items %}{{ i }}{% endfor %}",
		"{{ result.lines[1] | upper }}", "{% if on %}y{% else %}n{% endif %}",
		"{{ items | join(',') }}", "{% set x = port * 2 %}{{ x }}", "{{ '%s' % name }}",
		"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }}", "{{ range(3) | list }}",
		"{{ name[1:] }}", "{% raw %}{{ x }}{% endraw %}", "{# c #}", "{{ 1 / 0 }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Render("fuzz.j2", src, fuzzVars)
		if err == nil {
			return
		}
		var te *TemplateError
		if !errors.As(err, &te) {
			t.Fatalf("Render(%q): error %T %v is not a *TemplateError", src, err, err)
		}
		if !strings.HasPrefix(err.Error(), "template fuzz.j2") {
			t.Fatalf("Render(%q): error %q does not name the template", src, err)
		}
	})
}

// FuzzEvalExpr checks the same of expressions, which `when` and Eval take.
func FuzzEvalExpr(f *testing.F) {
	for _, s := range []string{
		"result.rc == 0", "port > 80 and on", "name in ['web1']", "items[0]",
		"result['stdout'] | length", "not nothing", "ratio * 2", "items[5]",
		"name ~ port", "port // 0", "{'a': 1}.a", "(1, 2)[1]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_, err := EvalExpr(expr, fuzzVars)
		if err == nil {
			return
		}
		var te *TemplateError
		if !errors.As(err, &te) {
			t.Fatalf("EvalExpr(%q): error %T %v is not a *TemplateError", expr, err, err)
		}
	})
}

// FuzzLoad checks that any policy source loads or fails with an *Error
// naming the file and a line inside it, never a panic.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.star")
	for _, p := range seeds {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add(`policy = Policy(roles=[Role(name="r", resources=[File(name="/x", content=T("{{ 1 / 0 }}"))])])`)
	path := filepath.Join(f.TempDir(), "fuzz.star")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := loadSource(path, []byte(src))
		if err == nil {
			return
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.File != path {
			t.Fatalf("error %T %v is not an *Error for %s", err, err, path)
		}
		// Starlark, as Python, also ends a line at a lone carriage return.
		if lines := strings.Count(src, "\n") + strings.Count(src, "\r") + 1; pe.Line < 0 || pe.Line > lines {
			t.Fatalf("error %v: line %d outside the source's %d lines", err, pe.Line, lines)
		}
	})
}
