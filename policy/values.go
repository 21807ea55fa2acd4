package policy

import (
	"fmt"
	"reflect"
	"sort"

	"go.starlark.net/starlark"
)

// Template is a string marked with T("..."): rendered as Jinja2 against
// the host's variables just before a resource runs.
type Template struct {
	Src string
	Pos Position // where T() was called; names the template in errors
}

// Name is how errors refer to the template.
func (t *Template) Name() string {
	if t.Pos.File == "" {
		return "T"
	}
	return "T at " + t.Pos.String()
}

// Eval is an expression marked with Eval("..."): evaluated as a Jinja2
// expression and replaced by its native value (a list stays a list).
type Eval struct {
	Expr string
	Pos  Position
}

// templateValue and evalValue are the Starlark faces of Template and Eval.
type templateValue struct{ t *Template }
type evalValue struct{ e *Eval }

var (
	_ starlark.Value = templateValue{}
	_ starlark.Value = evalValue{}
)

func (v templateValue) String() string        { return fmt.Sprintf("T(%q)", v.t.Src) }
func (v templateValue) Type() string          { return "T" }
func (v templateValue) Freeze()               {}
func (v templateValue) Truth() starlark.Bool  { return true }
func (v templateValue) Hash() (uint32, error) { return starlark.String(v.t.Src).Hash() }
func (v evalValue) String() string            { return fmt.Sprintf("Eval(%q)", v.e.Expr) }
func (v evalValue) Type() string              { return "Eval" }
func (v evalValue) Freeze()                   {}
func (v evalValue) Truth() starlark.Bool      { return true }
func (v evalValue) Hash() (uint32, error)     { return starlark.String(v.e.Expr).Hash() }

// toGo converts a Starlark value to a plain Go value: None→nil, bool,
// int→int64, float→float64, string, list/tuple→[]any,
// dict→map[string]any, T/Eval→*Template/*Eval. Anything else (functions,
// resources, roles) is not data and is an error.
func toGo(v starlark.Value) (any, error) {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.Int:
		n, ok := x.Int64()
		if !ok {
			return nil, fmt.Errorf("integer %s is too large", x)
		}
		return n, nil
	case starlark.Float:
		return float64(x), nil
	case starlark.String:
		return string(x), nil
	case *starlark.List:
		return seqToGo(x)
	case starlark.Tuple:
		return seqToGo(x)
	case *starlark.Dict:
		return dictToGo(x)
	case templateValue:
		return x.t, nil
	case evalValue:
		return x.e, nil
	}
	return nil, fmt.Errorf("a %s is not a value (want None, bool, int, float, string, list, dict, T or Eval)", v.Type())
}

func seqToGo(seq starlark.Indexable) ([]any, error) {
	out := make([]any, seq.Len())
	for i := range out {
		g, err := toGo(seq.Index(i))
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out[i] = g
	}
	return out, nil
}

func dictToGo(d *starlark.Dict) (map[string]any, error) {
	out := make(map[string]any, d.Len())
	for _, kv := range d.Items() {
		k, ok := kv[0].(starlark.String)
		if !ok {
			return nil, fmt.Errorf("dict key %s must be a string, not %s", kv[0], kv[0].Type())
		}
		g, err := toGo(kv[1])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", string(k), err)
		}
		out[string(k)] = g
	}
	return out, nil
}

// toStarlark converts a Go value (from inventory, facts, registered
// results: whatever msgpack or TOML produced) to a frozen Starlark value.
func toStarlark(v any) (starlark.Value, error) {
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return x, nil
	case *Template:
		return templateValue{x}, nil
	case *Eval:
		return evalValue{x}, nil
	case bool:
		return starlark.Bool(x), nil
	case string:
		return starlark.String(x), nil
	case []byte:
		return starlark.String(x), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case float64:
		return starlark.Float(x), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return starlark.MakeInt64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return starlark.MakeUint64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return starlark.Float(rv.Float()), nil
	case reflect.String:
		return starlark.String(rv.String()), nil
	case reflect.Bool:
		return starlark.Bool(rv.Bool()), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return starlark.None, nil
		}
		return toStarlark(rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		elems := make([]starlark.Value, rv.Len())
		for i := range elems {
			e, err := toStarlark(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			elems[i] = e
		}
		l := starlark.NewList(elems)
		l.Freeze()
		return l, nil
	case reflect.Map:
		keys := rv.MapKeys()
		strs := make([]string, len(keys))
		byName := make(map[string]reflect.Value, len(keys))
		for i, k := range keys {
			s := fmt.Sprint(k.Interface())
			strs[i] = s
			byName[s] = k
		}
		// Sorted so that a function iterating host.vars sees the same
		// order for every host and every run.
		sort.Strings(strs)
		d := starlark.NewDict(len(strs))
		for _, s := range strs {
			e, err := toStarlark(rv.MapIndex(byName[s]).Interface())
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", s, err)
			}
			if err := d.SetKey(starlark.String(s), e); err != nil {
				return nil, err
			}
		}
		d.Freeze()
		return d, nil
	}
	return nil, fmt.Errorf("cannot convert %T to a Starlark value", v)
}

// hostValue is the `host` argument of role functions.
type hostValue struct {
	name        string
	vars, facts starlark.Value
}

var _ starlark.HasAttrs = (*hostValue)(nil)

func newHostValue(h Host) (*hostValue, error) {
	vars, err := toStarlark(nonNilMap(h.Vars))
	if err != nil {
		return nil, fmt.Errorf("host %s: vars: %w", h.Name, err)
	}
	facts, err := toStarlark(nonNilMap(h.Facts))
	if err != nil {
		return nil, fmt.Errorf("host %s: facts: %w", h.Name, err)
	}
	return &hostValue{name: h.Name, vars: vars, facts: facts}, nil
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (h *hostValue) String() string        { return fmt.Sprintf("<host %s>", h.name) }
func (h *hostValue) Type() string          { return "host" }
func (h *hostValue) Freeze()               {}
func (h *hostValue) Truth() starlark.Bool  { return true }
func (h *hostValue) Hash() (uint32, error) { return starlark.String(h.name).Hash() }
func (h *hostValue) AttrNames() []string   { return []string{"facts", "name", "variables", "vars"} }

func (h *hostValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(h.name), nil
	case "vars", "variables":
		return h.vars, nil
	case "facts":
		return h.facts, nil
	}
	return nil, nil // starlark reports "host has no .x field or method"
}

// Truthy is Python/Jinja2 truth: nil, false, zero, empty strings and empty
// collections are false; everything else is true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int64:
		return x != 0
	case int:
		return x != 0
	case float64:
		return x != 0 // NaN is true, as in Python
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() != 0
	case reflect.Slice, reflect.Map, reflect.Array, reflect.String:
		return rv.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}
