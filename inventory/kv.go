package inventory

import (
	"fmt"
	"strings"
)

// ParseKV splits s into k=v words the way a POSIX shell splits words:
// whitespace separates them, 'single quotes' keep everything literally,
// "double quotes" keep everything but \" \\ \$ \` and backslash-newline,
// and a backslash outside quotes escapes the next character. Only an
// unquoted '=' separates a key from its value, so a='x=y' is key a, value
// x=y. Keys are identifiers ([A-Za-z_][A-Za-z0-9_]*) because templates and
// conditions refer to them by name. A later key replaces an earlier one.
func ParseKV(s string) (map[string]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(words))
	for _, w := range words {
		if w.eq < 0 {
			return nil, fmt.Errorf("bad variable %q: want k=v", w.text)
		}
		k, v := w.text[:w.eq], w.text[w.eq+1:]
		if !isIdent(k) {
			return nil, fmt.Errorf("bad variable %q: name %q must be letters, digits and _, not starting with a digit", w.text, k)
		}
		out[k] = v
	}
	return out, nil
}

// word is one shell word after quote removal; eq is the index in text of
// its first unquoted '=', or -1.
type word struct {
	text string
	eq   int
}

func splitWords(s string) ([]word, error) {
	var (
		words []word
		b     strings.Builder
		in    bool // inside a word (even an empty quoted one: '')
		eq    = -1
	)
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			if in {
				words = append(words, word{b.String(), eq})
				b.Reset()
				in, eq = false, -1
			}
			i++
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("backslash at end of %q", s)
			}
			if s[i+1] == '\n' { // line continuation, as in a shell
				i += 2
				continue
			}
			in = true
			b.WriteByte(s[i+1])
			i += 2
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' quote at column %d of %q", i+1, s)
			}
			in = true
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case '"':
			end, err := readDouble(s, i, &b)
			if err != nil {
				return nil, err
			}
			in = true
			i = end
		default:
			if c == '=' && eq < 0 {
				eq = b.Len()
			}
			in = true
			b.WriteByte(c)
			i++
		}
	}
	if in {
		words = append(words, word{b.String(), eq})
	}
	return words, nil
}

// readDouble copies the double-quoted string starting at s[start] into b
// and returns the index just past its closing quote.
func readDouble(s string, start int, b *strings.Builder) (int, error) {
	for i := start + 1; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0:
			if s[i+1] != '\n' {
				b.WriteByte(s[i+1])
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return 0, fmt.Errorf("unterminated \" quote at column %d of %q", start+1, s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
