package inventory

import (
	"strconv"
	"strings"
)

// keyLines maps every key path defined in a TOML document to the line it
// is first defined on, so that errors found after decoding (a host string
// that is not k=v, an unknown section) can name the line. BurntSushi/toml
// keeps key positions to itself, hence this small scanner. It only needs to
// be right for documents the TOML parser has accepted; for anything else it
// must merely not panic.
//
// Paths are keyPath(parts...). Keys inside inline tables and arrays are not
// recorded: lineOf falls back to the enclosing key.
type keyLines map[string]int

func keyPath(parts ...string) string { return strings.Join(parts, "\x00") }

// lineOf returns the line of the longest recorded prefix of path, or 0.
func (kl keyLines) lineOf(path ...string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := kl[keyPath(path[:n]...)]; ok {
			return l
		}
	}
	return 0
}

func scanKeyLines(src string) keyLines {
	s := &lineScanner{src: src, line: 1, out: keyLines{}}
	s.i = len(src) - len(strings.TrimPrefix(src, "\ufeff")) // a byte order mark
	s.run()
	return s.out
}

type lineScanner struct {
	src  string
	i    int
	line int
	ctx  []string // the current [table]
	out  keyLines
}

func (s *lineScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

func (s *lineScanner) record(parts []string, line int) {
	for n := 1; n <= len(parts); n++ {
		p := keyPath(parts[:n]...)
		if _, ok := s.out[p]; !ok {
			s.out[p] = line
		}
	}
}

func (s *lineScanner) run() {
	for s.i < len(s.src) {
		before := s.i
		switch c := s.src[s.i]; c {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.line++
			s.i++
		case '#':
			s.skipComment()
		case '[':
			s.header()
		default:
			line := s.line
			key := s.key()
			if s.peek(0) == '=' {
				s.i++
				s.record(append(append([]string{}, s.ctx...), key...), line)
				s.skipValue()
			} else {
				s.skipLine() // not valid TOML; resynchronise
			}
		}
		if s.i == before { // never loop without progress
			s.i++
		}
	}
}

func (s *lineScanner) header() {
	line := s.line
	s.i++
	array := s.peek(0) == '['
	if array {
		s.i++
	}
	s.ctx = s.key()
	s.record(s.ctx, line)
	if s.peek(0) == ']' {
		s.i++
		if array && s.peek(0) == ']' {
			s.i++
		}
	}
	s.skipLine()
}

// key reads a dotted key (bare, "basic" or 'literal' parts) and the
// whitespace after it.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipBlanks()
		switch s.peek(0) {
		case '"':
			start := s.i
			s.skipBasic()
			raw := s.src[start:s.i]
			if u, err := strconv.Unquote(raw); err == nil {
				parts = append(parts, u)
			} else {
				parts = append(parts, strings.Trim(raw, `"`))
			}
		case '\'':
			start := s.i + 1
			s.skipLiteral()
			parts = append(parts, strings.TrimSuffix(s.src[start:s.i], "'"))
		default:
			start := s.i
			for s.i < len(s.src) && !strings.ContainsRune(" \t\r\n.=]#\"'[", rune(s.src[s.i])) {
				s.i++
			}
			parts = append(parts, s.src[start:s.i])
		}
		s.skipBlanks()
		if s.peek(0) != '.' {
			return parts
		}
		s.i++
	}
}

func (s *lineScanner) skipBlanks() {
	for s.peek(0) == ' ' || s.peek(0) == '\t' {
		s.i++
	}
}

func (s *lineScanner) skipComment() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
}

func (s *lineScanner) skipLine() {
	s.skipComment()
}

// skipValue moves past a value, which may span lines inside brackets or
// multi-line strings, up to (not past) the newline that ends it.
func (s *lineScanner) skipValue() {
	depth := 0
	for s.i < len(s.src) {
		switch c := s.src[s.i]; c {
		case '"':
			s.skipBasic()
		case '\'':
			s.skipLiteral()
		case '[', '{':
			depth++
			s.i++
		case ']', '}':
			depth--
			s.i++
		case '#':
			s.skipComment()
		case '\n':
			if depth <= 0 {
				return
			}
			s.line++
			s.i++
		default:
			s.i++
		}
	}
}

// skipBasic moves past a "basic" or """multi-line basic""" string.
func (s *lineScanner) skipBasic() {
	if strings.HasPrefix(s.src[s.i:], `"""`) {
		s.i += 3
		for s.i < len(s.src) {
			switch s.src[s.i] {
			case '\\':
				if s.peek(1) == '\n' {
					s.line++
				}
				s.i += 2
			case '\n':
				s.line++
				s.i++
			case '"':
				if strings.HasPrefix(s.src[s.i:], `"""`) {
					s.i += 3
					for n := 0; n < 2 && s.peek(0) == '"'; n++ { // """"" ends with quotes in the string
						s.i++
					}
					return
				}
				s.i++
			default:
				s.i++
			}
		}
		return
	}
	s.i++
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		case '\n':
			return // unterminated: not valid TOML
		default:
			s.i++
		}
	}
}

// skipLiteral moves past a single-quoted literal string, one-line or
// multi-line (three quotes).
func (s *lineScanner) skipLiteral() {
	if strings.HasPrefix(s.src[s.i:], `'''`) {
		s.i += 3
		for s.i < len(s.src) {
			if strings.HasPrefix(s.src[s.i:], `'''`) {
				s.i += 3
				for n := 0; n < 2 && s.peek(0) == '\''; n++ {
					s.i++
				}
				return
			}
			if s.src[s.i] == '\n' {
				s.line++
			}
			s.i++
		}
		return
	}
	s.i++
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case '\'':
			s.i++
			return
		case '\n':
			return
		default:
			s.i++
		}
	}
}
