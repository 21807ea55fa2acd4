package controller

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLaterResourcesSeeNewVars pins that the merged variables an executor
// keeps between resources are dropped when a Set or a registered result
// changes them: resources prepared afterwards must see the new values in
// their names, conditions, parameters and templates.
func TestLaterResourcesSeeNewVars(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		want      map[string]string // file under ROOT → content
		absent    []string
	}{
		{"set before a templated path",
			`[File(T("ROOT/{{ x | default('none') }}.a"), from_content="1"), Set(x="set"), File(T("ROOT/{{ x }}.b"), from_content=T("{{ x }}"))]`,
			map[string]string{"none.a": "1", "set.b": "set"}, nil},
		{"set twice",
			`[Set(x="one"), File(T("ROOT/{{ x }}"), from_content="1"), Set(x="two"), File(T("ROOT/{{ x }}"), from_content="2")]`,
			map[string]string{"one": "1", "two": "2"}, nil},
		{"registered result in a later template",
			`[File("ROOT/first", from_content="x"), Shell("echo hi", register="r"), File("ROOT/said", from_content=T("{{ r.stdout }}"))]`,
			map[string]string{"first": "x", "said": "hi"}, nil},
		{"registered result in a later when",
			`[Shell("exit 3", register="r", ignore_errors=True), File("ROOT/yes", from_content="y", when="r.rc == 3"), File("ROOT/no", from_content="n", when="r.rc == 0")]`,
			map[string]string{"yes": "y"}, []string{"no"}},
		{"skipped registers its result",
			`[Shell("true", register="s", when=False), File("ROOT/skipped", from_content=T("{{ s.skipped | default('unset') }}"))]`,
			map[string]string{"skipped": "True"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := writePolicy(t, map[string]string{"policy.star": "policy = Policy(roles=[Role('r', resources=" + tt.resources + ")])"})
			rec, _, err := runPolicy(t, path, false)
			if err != nil {
				t.Fatalf("run: %v %q", err, rec.statuses(""))
			}
			for name, want := range tt.want {
				if got := readFile(t, filepath.Join(dir, name)); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			for _, name := range tt.absent {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					t.Errorf("%s exists, want it skipped", name)
				}
			}
		})
	}
}
