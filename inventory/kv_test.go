package inventory

import (
	"reflect"
	"testing"
)

func TestParseKV(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"blank", " \t\n ", map[string]string{}},
		{"one", "a=1", map[string]string{"a": "1"}},
		{"several", "  a=1\tb=2\nc=3 ", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"empty value", "a= b=''", map[string]string{"a": "", "b": ""}},
		{"single quotes", "b='x y'", map[string]string{"b": "x y"}},
		{"single quotes keep backslashes", `b='x\ny\'`, map[string]string{"b": `x\ny\`}},
		{"double quotes", `b="x 'y' \"z\" \\ \$ \a"`, map[string]string{"b": `x 'y' "z" \ $ \a`}},
		{"quoted whole word", `'a=x y'`, nil},
		{"quote in the middle", `a=x'  'y"  "z`, map[string]string{"a": "x  y  z"}},
		{"backslash escapes", `a=x\ y\=z\\`, map[string]string{"a": `x y=z\`}},
		{"line continuation", "a=x\\\ny", map[string]string{"a": "xy"}},
		{"equals in value", "url=http://h/?a=b", map[string]string{"url": "http://h/?a=b"}},
		{"quoted equals in value", "a='=x'", map[string]string{"a": "=x"}},
		{"later wins", "a=1 a=2", map[string]string{"a": "2"}},
		{"underscore and digits", "_a1=x A_B=y", map[string]string{"_a1": "x", "A_B": "y"}},
		{"utf-8", "motd='héllo wörld' ü=x", nil},
		{"utf-8 value", "motd=héllo", map[string]string{"motd": "héllo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKV(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseKV(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKV(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseKV(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseKVErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no equals", "a=1 port8080", `bad variable "port8080": want k=v`},
		{"empty key", "=1", `bad variable "=1": name "" must be letters, digits and _, not starting with a digit`},
		{"digit first", "1a=1", `bad variable "1a=1": name "1a" must be letters, digits and _, not starting with a digit`},
		{"dash in key", "a-b=1", `bad variable "a-b=1": name "a-b" must be letters, digits and _, not starting with a digit`},
		{"quoted equals only", "'a=1'", `bad variable "a=1": want k=v`},
		{"escaped equals only", `a\=1`, `bad variable "a=1": want k=v`},
		{"unterminated single", "a=1 b='x", `unterminated ' quote at column 7 of "a=1 b='x"`},
		{"unterminated double", `b="x\"`, `unterminated " quote at column 3 of "b=\"x\\\""`},
		{"trailing backslash", `a=x\`, `backslash at end of "a=x\\"`},
		{"empty quotes", "''", `bad variable "": want k=v`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKV(tt.in)
			if err == nil {
				t.Fatalf("ParseKV(%q) = %v, want error %q", tt.in, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseKV(%q) error:\n got %s\nwant %s", tt.in, err, tt.want)
			}
		})
	}
}
