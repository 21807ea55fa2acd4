package policy

import (
	"errors"
	"reflect"
	"testing"
)

func TestRender(t *testing.T) {
	vars := map[string]any{
		"name": "web1", "port": int64(8080), "items": []any{"a", "b"},
		"result": map[string]any{"rc": int64(0), "stdout": "ok"},
	}
	for _, tc := range []struct {
		name, src, want, err string
	}{
		{"plain text keeps trailing newline", "no templating\n", "no templating\n", ""},
		{"variables", "{{ name }}:{{ port }}\n", "web1:8080\n", ""},
		{"attribute", "rc={{ result.rc }} {{ result['stdout'] | upper }}", "rc=0 OK", ""},
		{"loop", "{% for i in items %}{{ i }};{% endfor %}", "a;b;", ""},
		{"defined test", "{% if colour is defined %}y{% else %}n{% endif %}", "n", ""},
		{"default filter", "{{ colour | default('red') }}", "red", ""},
		{"undefined variable", "hello\n{{ name }}\nx {{ colour }}\n", "", `template motd.j2: line 3: undefined variable "colour"`},
		{"undefined in loop", "{% for i in items %}\n{{ i }}\n{{ colour }}{% endfor %}", "", `template motd.j2: line 3: undefined variable "colour"`},
		{"undefined attribute", "{{ result.nope }}", "", `template motd.j2: line 1: undefined variable "result.nope"`},
		{"syntax error", "line1\n{{ name + }}", "", `template motd.j2: line 2: expected either a number, string, keyword or identifier.`},
		{"unclosed block", "{% if name %}x", "", `template motd.j2: line 1: Unexpected EOF, expected tag elif or else or endif.`},
		{"include refused", `{% include "other.j2" %}`, "", ""},
		// gonja panics on these; its lexer never ends on the last
		{"modulo by zero", "{{ port % 0 }}", "", `template motd.j2: modulo by zero (a string on either side counts as 0: for formatting use the format filter)`},
		{"string formatting", "{{ '%s' % name }}", "", `template motd.j2: modulo by zero (a string on either side counts as 0: for formatting use the format filter)`},
		{"not utf-8", "ok\n{% \xe2\xff0 %}", "", `template motd.j2: line 2: not UTF-8 text (byte 6)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render("motd.j2", tc.src, vars)
			if tc.name == "include refused" {
				if err == nil {
					t.Fatalf("include rendered %q, want an error", got)
				}
				return
			}
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Errorf("error %T is not *TemplateError", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestEvalExpr(t *testing.T) {
	vars := map[string]any{"a": int64(1), "l": []any{"x", int64(2)}, "m": map[string]any{"k": "v"}, "f": 1.5}
	for _, tc := range []struct {
		expr string
		want any
		err  string
	}{
		{"a + 1", int64(2), ""},
		{"a == 1 and f > 1", true, ""},
		{"l", []any{"x", int64(2)}, ""},
		{"m", map[string]any{"k": "v"}, ""},
		{"m.k ~ '!'", "v!", ""},
		{"[1, 'a', None]", []any{int64(1), "a", nil}, ""},
		{"[1, nope]", nil, `expression "[1, nope]": undefined variable "nope"`},
		{"{'x': 1}", map[string]any{"x": int64(1)}, ""},
		{"f * 2", 3.0, ""},
		{"l | length", int64(2), ""},
		{"nope == 1", nil, `expression "nope == 1": undefined variable "nope"`},
		{"a ==", nil, `expression "a ==": expected either a number, string, keyword or identifier.`},
		{"a 1", nil, `expression "a 1": unexpected "1" after the expression`},
		{"  ", nil, `expression "  ": empty expression`},
		{"a % 0", nil, `expression "a % 0": modulo by zero (a string on either side counts as 0: for formatting use the format filter)`},
		{"'a' \xff", nil, `expression "'a' \xff": not UTF-8 text (byte 4)`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := EvalExpr(tc.expr, vars)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("EvalExpr = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {"", false}, {"x", true}, {int64(0), false}, {int64(3), true},
		{0, false}, {0.0, false}, {0.1, true}, {[]any{}, false}, {[]any{1}, true}, {map[string]any{}, false},
		{map[string]any{"a": 1}, true}, {uint8(0), false}, {[]string{"a"}, true},
	} {
		if got := Truthy(tc.v); got != tc.want {
			t.Errorf("Truthy(%#v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	vars := map[string]any{"user": "bob", "ports": []any{int64(80), int64(443)}}
	in := map[string]any{
		"plain": "x",
		"owner": &Template{Src: "{{ user }}"},
		"list":  []any{&Template{Src: "{{ user }}-1"}, &Eval{Expr: "ports"}, int64(3)},
		"deep":  map[string]any{"inner": []any{map[string]any{"p": &Eval{Expr: "ports[1] + 1"}}}},
	}
	got, err := Resolve(in, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"plain": "x",
		"owner": "bob",
		"list":  []any{"bob-1", []any{int64(80), int64(443)}, int64(3)},
		"deep":  map[string]any{"inner": []any{map[string]any{"p": int64(444)}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve =\n %#v\nwant\n %#v", got, want)
	}
	if _, ok := in["owner"].(*Template); !ok {
		t.Error("Resolve modified its input")
	}
	_, err = Resolve([]any{&Template{Src: "{{ nope }}", Pos: Position{"p.star", 3, 9}}}, vars)
	if err == nil || err.Error() != `template T at p.star:3:9: line 1: undefined variable "nope"` {
		t.Errorf("Resolve error = %v", err)
	}
}

func TestIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"result.rc == 0", []string{"result"}},
		{"a and not b or c is defined", []string{"a", "b", "c", "defined"}},
		{"x['key'] ~ \"str\" ~ y . z", []string{"x", "y"}},
		{"hello {{ name }} and {% for i in items %}{{ i.x }}{% endfor %} {{ 3.5 }}", []string{"name", "i", "items"}},
		{"{{ v | default('d') }}", []string{"v", "default"}},
		{"no code here {", []string{"no", "code", "here"}},
		{"", nil},
	} {
		t.Run(tc.src, func(t *testing.T) {
			if got := Identifiers(tc.src); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Identifiers = %q, want %q", got, tc.want)
			}
		})
	}
}
