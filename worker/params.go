package worker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Params gives typed access to a resource's parameters. Every getter records
// the key it was asked for, so Build can reject the keys nobody asked for.
type Params struct {
	typ  string
	m    map[string]any
	seen map[string]bool
}

// NewParams wraps m for resource type typ (for tests and Build).
func NewParams(typ string, m map[string]any) Params {
	return Params{typ: typ, m: m, seen: map[string]bool{}}
}

func (p *Params) get(key string) (any, bool) {
	p.seen[key] = true
	v, ok := p.m[key]
	if v == nil {
		return nil, false
	}
	return v, ok
}

func (p *Params) typeErr(key, want string, v any) error {
	return fmt.Errorf("%s: parameter %q must be %s, not %T", p.typ, key, want, v)
}

// Has reports whether key is set to a non-nil value.
func (p *Params) Has(key string) bool {
	_, ok := p.get(key)
	return ok
}

// String returns a string parameter, or def when it is unset.
func (p *Params) String(key, def string) (string, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", p.typeErr(key, "a string", v)
	}
	return s, nil
}

// Bool returns a bool parameter, or def when it is unset.
func (p *Params) Bool(key string, def bool) (bool, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, p.typeErr(key, "True or False", v)
	}
	return b, nil
}

// Int returns an integer parameter, or def when it is unset. Strings of
// digits are accepted because inventory values arrive as strings.
func (p *Params) Int(key string, def int64) (int64, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int8, int16, int32, uint8, uint16, uint32, uint64:
		return strconv.ParseInt(fmt.Sprint(n), 10, 64)
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return 0, p.typeErr(key, "an integer", v)
		}
		return i, nil
	}
	return 0, p.typeErr(key, "an integer", v)
}

// Strings returns a list of strings; a single string is a list of one.
func (p *Params) Strings(key string) ([]string, error) {
	v, ok := p.get(key)
	if !ok {
		return nil, nil
	}
	switch l := v.(type) {
	case string:
		return []string{l}, nil
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, isStr := e.(string)
			if !isStr {
				return nil, p.typeErr(key, "a list of strings", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, p.typeErr(key, "a list of strings", v)
}

// StringMap returns a dict of string to string (environment variables).
func (p *Params) StringMap(key string) (map[string]string, error) {
	v, ok := p.get(key)
	if !ok {
		return nil, nil
	}
	out := map[string]string{}
	switch m := v.(type) {
	case map[string]string:
		return m, nil
	case map[string]any:
		for k, e := range m {
			out[k] = fmt.Sprint(e)
		}
		return out, nil
	}
	return nil, p.typeErr(key, "a dict of strings", v)
}

// Raw returns the parameter as it came, for types with their own decoding.
func (p *Params) Raw(key string) (any, bool) { return p.get(key) }

func (p *Params) checkUnknown() error {
	var unknown []string
	for k := range p.m {
		if !p.seen[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("%s: unknown parameter %q", p.typ, unknown[0])
}

// paramReader reads parameters and keeps every error (a sticky error, as
// bufio.Scanner has), so that a resource's constructor reads all of them
// one per line and reports every problem at once.
type paramReader struct {
	p    *Params
	errs []error
}

func (p *Params) reader() *paramReader { return &paramReader{p: p} }

// keep records err, if any, among the reader's errors.
func (r *paramReader) keep(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

func (r *paramReader) String(key, def string) string {
	v, err := r.p.String(key, def)
	r.keep(err)
	return v
}

func (r *paramReader) Bool(key string, def bool) bool {
	v, err := r.p.Bool(key, def)
	r.keep(err)
	return v
}

func (r *paramReader) Int(key string, def int64) int64 {
	v, err := r.p.Int(key, def)
	r.keep(err)
	return v
}

func (r *paramReader) Strings(key string) []string {
	v, err := r.p.Strings(key)
	r.keep(err)
	return v
}

func (r *paramReader) StringMap(key string) map[string]string {
	v, err := r.p.StringMap(key)
	r.keep(err)
	return v
}

// Err is every error kept, joined; nil when all parameters were good.
func (r *paramReader) Err() error { return errors.Join(r.errs...) }
