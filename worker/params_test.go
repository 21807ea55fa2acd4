package worker

import (
	"strings"
	"testing"
)

// TestParamReaderKeepsEveryError: a constructor reads all its parameters
// and learns of every bad one at once, with the values of the good ones.
func TestParamReaderKeepsEveryError(t *testing.T) {
	p := NewParams("thing", map[string]any{"a": "text", "b": 7, "c": true})
	rd := p.reader()
	a := rd.String("a", "")
	b := rd.Bool("b", false)    // wrong type
	c := rd.Int("c", 3)         // wrong type
	d := rd.String("d", "none") // absent: the default
	err := rd.Err()
	if a != "text" || d != "none" {
		t.Errorf("good parameters read as %q and %q", a, d)
	}
	if err == nil {
		t.Fatalf("no error for two bad parameters (b=%v, c=%v)", b, c)
	}
	for _, key := range []string{`"b"`, `"c"`} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name parameter %s", err, key)
		}
	}
	if ok := NewParams("thing", map[string]any{"a": "x"}); ok.reader().Err() != nil {
		t.Error("a reader that read nothing has an error")
	}
}
