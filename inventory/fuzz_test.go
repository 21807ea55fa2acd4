package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseKV checks that ParseKV never panics and that whatever it
// accepts survives being quoted and parsed again.
func FuzzParseKV(f *testing.F) {
	for _, s := range []string{"", "a=1 b='x y'", `c="a \"q\" \\ $"`, `d=x\ y`, "e='", "=", "a-b=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseKV(s)
		if err != nil {
			return
		}
		var words []string
		for k, v := range m {
			if !isIdent(k) {
				t.Fatalf("ParseKV(%q) accepted key %q", s, k)
			}
			words = append(words, k+"='"+strings.ReplaceAll(v, "'", `'\''`)+"'")
		}
		again, err := ParseKV(strings.Join(words, " "))
		if err != nil {
			t.Fatalf("re-parsing %q: %v", words, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("ParseKV(%q) = %q, but quoted and re-parsed = %q", s, m, again)
		}
	})
}

// FuzzLoadTOML checks that any input gives an inventory or a FileError
// naming the file and a line inside it, never a panic.
func FuzzLoadTOML(f *testing.F) {
	for _, s := range []string{
		"[groups.web.hosts]\nweb1 = \"a=1\"\n[groups.web.vars]\nx = 1\n[hosts.web1.vars]\ny = [1, 2]\n",
		"[groups.web.hosts]\nweb1 = \"port8080\"\n",
		"[groups]\nweb = 1\n",
		"[groups.a]\nhosts = { h = \"\" }\nvars = { v = \"\"\"\nx\n\"\"\" }\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		inv, err := parseTOML("fuzz.toml", src)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "fuzz.toml" {
				t.Fatalf("error %v is not a FileError for fuzz.toml", err)
			}
			if fe.Line < 0 || fe.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("error %v: line %d outside the input's %d lines", err, fe.Line, strings.Count(src, "\n")+1)
			}
			return
		}
		seen := map[string]bool{}
		for _, h := range inv.Hosts() {
			if seen[h.Name] || h.Name == "" || h.Vars == nil {
				t.Fatalf("bad host %+v in %v", h, inv.Hosts())
			}
			seen[h.Name] = true
		}
		if _, err := inv.Filter([]string{"*"}, []string{"*"}); err != nil {
			t.Fatal(err)
		}
	})
}
