package policy

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// renderUncached is how Render worked before parsed templates were cached
// and variables were put into a context once per Scope: parse, then execute
// with a copy of the variables.
func renderUncached(name, src string, vars map[string]any) (string, error) {
	t, err := exec.NewTemplate(name, jinjaConfig(), noIncludes{name, src}, gonja.DefaultEnvironment)
	if err != nil {
		return "", templateError("template "+name, err)
	}
	out, err := t.ExecuteToString(exec.NewContext(maps.Clone(vars)))
	if err != nil {
		return "", templateError("template "+name, err)
	}
	return out, nil
}

// TestScopeMatchesUncached renders each template twice through one Scope
// (the second time from the cache) and compares output and error with a
// fresh parse and execution.
func TestScopeMatchesUncached(t *testing.T) {
	vars := map[string]any{
		"name": "web1", "port": int64(8080), "items": []any{"a", "b"}, "self": "shadowed",
		"result": map[string]any{"rc": int64(0), "stdout": "ok"},
	}
	for _, tc := range []struct{ name, src string }{
		{"plain", "no templating\n"},
		{"variables", "{{ name }}:{{ port }}\n"},
		{"set at top level", "{% set name = 'other' %}{{ name }}"},
		{"set in a loop", "{% for i in items %}{% set last = i %}{{ last }}{% endfor %}"},
		{"namespace", "{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"},
		{"globals", "{{ range(3) | list }}"},
		{"macro", "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(name) }}{{ m(port) }}"},
		{"if", "{% if result.rc == 0 %}yes{% else %}no{% endif %}"},
		{"undefined", "a\n{{ nope }}"},
		{"undefined attribute", "{{ result.nope }}"},
		{"syntax error", "{{ name + }}"},
		{"filter error", "{{ name | nosuchfilter }}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := renderUncached("t.j2", tc.src, vars)
			s := NewScope(vars)
			for i := range 2 {
				got, err := s.Render("t.j2", tc.src)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || got != want {
					t.Fatalf("render %d = %q, %v; want %q, %v", i+1, got, err, want, wantErr)
				}
			}
			if vars["name"] != "web1" || len(vars) != 5 {
				t.Fatalf("rendering changed the variables: %v", vars)
			}
		})
	}
}

// TestScopeConcurrent renders the same cached templates for many hosts at
// once, some sharing a Scope; run with -race.
func TestScopeConcurrent(t *testing.T) {
	const hosts = 16
	src := "{% set n = name ~ '!' %}{% for i in items %}{{ n }}{{ i }};{% endfor %}"
	shared := NewScope(map[string]any{"name": "shared", "items": []any{int64(1), int64(2)}})
	var wg sync.WaitGroup
	errs := make(chan error, 4*hosts)
	for h := range hosts {
		own := NewScope(map[string]any{"name": fmt.Sprintf("h%d", h), "items": []any{"x"}})
		for _, c := range []struct {
			s              *Scope
			want, wantEval string
		}{{own, fmt.Sprintf("h%d!x;", h), fmt.Sprintf("h%d?", h)}, {shared, "shared!1;shared!2;", "shared?"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					got, err := c.s.Render("t", src)
					if err != nil || got != c.want {
						errs <- fmt.Errorf("got %q, %v; want %q", got, err, c.want)
						return
					}
					v, err := c.s.EvalExpr("name ~ '?'")
					if err != nil || v != c.wantEval {
						errs <- fmt.Errorf("eval got %v, %v", v, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseCache(t *testing.T) {
	var c parseCache[string, int]
	parses := 0
	parse := func(v int, err error) func() (int, error) {
		return func() (int, error) { parses++; return v, err }
	}
	if v, err := c.get("a", parse(1, nil)); v != 1 || err != nil {
		t.Fatalf("first get = %v, %v", v, err)
	}
	if v, _ := c.get("a", parse(2, nil)); v != 1 || parses != 1 {
		t.Fatalf("cached get = %v after %d parses, want 1 after 1", v, parses)
	}
	boom := errors.New("boom")
	for range 2 {
		if _, err := c.get("bad", parse(0, boom)); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	}
	if parses != 3 {
		t.Fatalf("parses = %d: a failed parse must not be cached", parses)
	}
	for i := range parseCacheMax {
		c.get(fmt.Sprint("k", i), parse(i, nil))
	}
	if len(c.m) > parseCacheMax {
		t.Fatalf("cache holds %d entries, more than %d", len(c.m), parseCacheMax)
	}
	if v, err := c.get("after", parse(7, nil)); v != 7 || err != nil {
		t.Fatalf("get after the cache filled = %v, %v", v, err)
	}
}
