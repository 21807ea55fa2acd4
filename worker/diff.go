package worker

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"
)

// maxDiffSize bounds the content a diff is computed for: a diff of a large
// file is neither readable nor cheap.
const maxDiffSize = 1 << 20

// unifiedDiff renders the change from before to after as a unified diff with
// three lines of context. It returns "" for binary or huge content, and for
// no change.
func unifiedDiff(path string, before, after []byte) string {
	if len(before) > maxDiffSize || len(after) > maxDiffSize || isBinary(before) || isBinary(after) {
		return ""
	}
	d := difflib.UnifiedDiff{
		A:        splitLines(before),
		B:        splitLines(after),
		FromFile: path + " (before)",
		ToFile:   path + " (after)",
		Context:  3,
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return ""
	}
	return s
}

// isBinary uses git's rule of thumb, a NUL byte, plus invalid UTF-8.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}

// splitLines keeps each line's newline, as difflib wants, and gives an
// empty text no lines at all (difflib.SplitLines would give it one).
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n"
	}
	return lines
}
