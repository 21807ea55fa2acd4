package policy

import (
	"fmt"
	"regexp"
	"strings"

	"go.starlark.net/starlark"
)

// Resource is one resource as written in the policy, before templates are
// rendered: Params may hold *Template and *Eval values anywhere.
type Resource struct {
	Type string // "file", "shell", ...
	// Name is the primary argument (File's path, Shell's command, Echo's
	// message); for T("...") it is the template source and NameTemplate
	// is set, to be rendered with the host's variables.
	Name         string
	NameTemplate *Template
	Params       map[string]any // type-specific parameters only

	When                              Cond
	Register, FailedWhen, ChangedWhen string
	IgnoreErrors                      bool
	Signals, Tags                     []string
	Pos                               Position
}

// paramKind is the type a resource parameter accepts. Every kind also
// accepts Eval("..."), whose type the worker checks once it is evaluated.
type paramKind int

const (
	kString  paramKind = iota // string or T
	kBool                     // True/False
	kInt                      // int
	kMode                     // int (0o644) or string ("0644"), or T
	kStrList                  // a string or a list of strings (or T)
	kStrDict                  // dict of string to string (or T)
)

func (k paramKind) want() string {
	return [...]string{
		kString:  "a string",
		kBool:    "True or False",
		kInt:     "an int",
		kMode:    "an int or string",
		kStrList: "a string or a list of strings",
		kStrDict: "a dict of strings",
	}[k]
}

// spec describes one resource constructor.
type spec struct {
	ctor, typ string
	primary   string // parameter holding the first positional argument; "" for none
	params    map[string]paramKind
	// varargs, when set, is the Params key collecting all positional
	// arguments (Debug's names, Asserts' expressions).
	varargs string
	// kwvars, when set, is the Params key collecting all non-common
	// keyword arguments (Set's variables).
	kwvars string
	check  func(r *Resource) error
}

var specs = []*spec{
	{ctor: "File", typ: "file", primary: "name", params: map[string]paramKind{
		"from_file": kString, "from_template": kString, "from_content": kString,
		"owner": kString, "group": kString, "mode": kMode, "absent": kBool, "overwrite": kBool,
	}, check: checkFile},
	{ctor: "Directory", typ: "directory", primary: "name", params: map[string]paramKind{
		"owner": kString, "group": kString, "mode": kMode, "absent": kBool, "recursive": kBool,
	}},
	{ctor: "Shell", typ: "shell", primary: "cmd", params: map[string]paramKind{
		"creates": kString, "removes": kString, "chdir": kString, "timeout": kInt, "environment": kStrDict,
		"check_mode": kBool,
	}},
	{ctor: "Echo", typ: "echo", primary: "msg", params: map[string]paramKind{}},
	{ctor: "Stop", typ: "stop", primary: "msg", params: map[string]paramKind{}},
	{ctor: "Debug", typ: "debug", varargs: "names", params: map[string]paramKind{}},
	{ctor: "Asserts", typ: "asserts", varargs: "expressions", params: map[string]paramKind{}, check: checkAsserts},
	{ctor: "Set", typ: "set", kwvars: "vars", params: map[string]paramKind{}},
	{ctor: "Package", typ: "package", primary: "name", params: map[string]paramKind{
		"version": kString, "latest": kBool, "absent": kBool, "update_cache": kBool, "method": kString,
	}},
	{ctor: "Service", typ: "service", primary: "name", params: map[string]paramKind{
		"started": kBool, "enabled": kBool, "restarted": kBool, "method": kString,
	}},
	{ctor: "User", typ: "user", primary: "name", params: map[string]paramKind{
		"uid": kInt, "group": kString, "groups": kStrList, "home": kString, "shell": kString,
		"system": kBool, "absent": kBool,
	}},
	{ctor: "Group", typ: "group", primary: "name", params: map[string]paramKind{
		"gid": kInt, "system": kBool, "absent": kBool,
	}},
	// Stat reads a path's file facts into its registered result's data.
	{ctor: "Stat", typ: "stat", primary: "name", params: map[string]paramKind{}},
}

// commonParams are accepted by every resource.
var commonParams = map[string]bool{
	"when": true, "register": true, "ignore_errors": true, "failed_when": true,
	"changed_when": true, "signals": true, "tags": true,
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkFile(r *Resource) error {
	var from []string
	for _, k := range []string{"from_file", "from_template", "from_content"} {
		if _, ok := r.Params[k]; ok {
			from = append(from, k)
		}
	}
	if len(from) > 1 {
		return fmt.Errorf("File: %s and %s cannot be used together: choose one source", from[0], from[1])
	}
	if absent, _ := r.Params["absent"].(bool); absent && len(from) == 1 {
		return fmt.Errorf("File: absent=True cannot be used with %s", from[0])
	}
	return nil
}

func checkAsserts(r *Resource) error {
	for _, e := range r.Params["expressions"].([]any) {
		if s, ok := e.(string); ok {
			if _, err := parseExpr(s); err != nil {
				return fmt.Errorf("Asserts: %w", err)
			}
		}
	}
	return nil
}

// resourceValue is the Starlark face of a Resource; it is immutable.
type resourceValue struct {
	r    *Resource
	ctor string
}

func (v *resourceValue) String() string        { return fmt.Sprintf("%s(%q)", v.ctor, v.r.Name) }
func (v *resourceValue) Type() string          { return v.ctor }
func (v *resourceValue) Freeze()               {}
func (v *resourceValue) Truth() starlark.Bool  { return true }
func (v *resourceValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", v.ctor) }

func (s *spec) builtin() *starlark.Builtin {
	return starlark.NewBuiltin(s.ctor, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		rt := threadRuntime(thread)
		r, err := s.build(rt, args, kwargs)
		if err != nil {
			return nil, err
		}
		r.Pos = rt.callerPos(thread)
		return &resourceValue{r: r, ctor: s.ctor}, nil
	})
}

// build checks every argument against the spec and converts it.
func (s *spec) build(rt *runtime, args starlark.Tuple, kwargs []starlark.Tuple) (*Resource, error) {
	r := &Resource{Type: s.typ, Params: map[string]any{}}
	if err := s.positional(r, args, kwargs); err != nil {
		return nil, err
	}
	for _, kv := range kwargs {
		key, val := string(kv[0].(starlark.String)), kv[1]
		switch {
		case key == s.primary:
			continue // handled by positional
		case commonParams[key]:
			if err := s.common(rt, r, key, val); err != nil {
				return nil, err
			}
		case s.kwvars != "":
			g, err := toGo(val)
			if err != nil {
				return nil, fmt.Errorf("%s: variable %q: %w", s.ctor, key, err)
			}
			vars, _ := r.Params[s.kwvars].(map[string]any)
			if vars == nil {
				vars = map[string]any{}
				r.Params[s.kwvars] = vars
			}
			vars[key] = g
		default:
			kind, ok := s.params[key]
			if !ok {
				return nil, fmt.Errorf("%s: unknown parameter %q", s.ctor, key)
			}
			if val == starlark.None {
				continue // None means "not set", as in OpsMop
			}
			g, err := convertParam(kind, val)
			if err != nil {
				return nil, fmt.Errorf("%s: parameter %q %w", s.ctor, key, err)
			}
			r.Params[key] = g
		}
	}
	if s.kwvars != "" {
		vars, _ := r.Params[s.kwvars].(map[string]any)
		if len(vars) == 0 {
			return nil, fmt.Errorf("%s: give at least one variable, as in %s(name=value)", s.ctor, s.ctor)
		}
		r.Name = strings.Join(kwNames(kwargs, vars), ", ")
	}
	if s.check != nil {
		if err := s.check(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// kwNames lists the keys of vars in the order they were written.
func kwNames(kwargs []starlark.Tuple, vars map[string]any) []string {
	var out []string
	for _, kv := range kwargs {
		if k := string(kv[0].(starlark.String)); !commonParams[k] {
			out = append(out, k)
		}
	}
	return out
}

// positional handles the name (or the variadic arguments).
func (s *spec) positional(r *Resource, args starlark.Tuple, kwargs []starlark.Tuple) error {
	if s.varargs != "" {
		items := make([]any, len(args))
		names := make([]string, len(args))
		for i, a := range args {
			str, ok := a.(starlark.String)
			if !ok {
				return fmt.Errorf("%s: argument %d must be a string, not %s", s.ctor, i+1, a.Type())
			}
			items[i], names[i] = string(str), string(str)
		}
		if s.ctor == "Asserts" && len(items) == 0 {
			return fmt.Errorf("Asserts: give at least one expression")
		}
		r.Params[s.varargs] = items
		r.Name = strings.Join(names, ", ")
		return nil
	}
	if s.primary == "" {
		if len(args) > 0 {
			return fmt.Errorf("%s: takes no positional arguments, got %d", s.ctor, len(args))
		}
		return nil
	}
	var primary starlark.Value
	switch len(args) {
	case 0:
	case 1:
		primary = args[0]
	default:
		return fmt.Errorf("%s: takes 1 positional argument (%s), got %d", s.ctor, s.primary, len(args))
	}
	for _, kv := range kwargs {
		if string(kv[0].(starlark.String)) == s.primary {
			if primary != nil {
				return fmt.Errorf("%s: %s given twice", s.ctor, s.primary)
			}
			primary = kv[1]
		}
	}
	if primary == nil {
		return fmt.Errorf("%s: missing %s (the first argument)", s.ctor, s.primary)
	}
	switch p := primary.(type) {
	case starlark.String:
		if p == "" {
			return fmt.Errorf("%s: %s must not be empty", s.ctor, s.primary)
		}
		r.Name = string(p)
		if s.primary == "msg" {
			r.Params["msg"] = string(p)
		}
	case templateValue:
		r.Name, r.NameTemplate = p.t.Src, p.t
		if s.primary == "msg" {
			r.Params["msg"] = p.t
		}
	default:
		return fmt.Errorf("%s: %s must be a string or T(...), not %s", s.ctor, s.primary, primary.Type())
	}
	return nil
}

func (s *spec) common(rt *runtime, r *Resource, key string, val starlark.Value) error {
	var err error
	switch key {
	case "when":
		r.When, err = parseCond(rt, s.ctor+": when", val)
	case "register":
		str, ok := val.(starlark.String)
		if !ok || !identRE.MatchString(string(str)) {
			return fmt.Errorf("%s: parameter \"register\" must be a variable name such as \"result\", not %s", s.ctor, val)
		}
		r.Register = string(str)
	case "ignore_errors":
		b, ok := val.(starlark.Bool)
		if !ok {
			return fmt.Errorf("%s: parameter \"ignore_errors\" must be True or False, not %s", s.ctor, val.Type())
		}
		r.IgnoreErrors = bool(b)
	case "failed_when", "changed_when":
		var expr string
		switch x := val.(type) {
		case starlark.String:
			expr = string(x)
		case evalValue:
			expr = x.e.Expr
		case starlark.Bool:
			expr = "true"
			if !x {
				expr = "false"
			}
		default:
			return fmt.Errorf("%s: parameter %q must be a Jinja expression string, not %s", s.ctor, key, val.Type())
		}
		if _, err := parseExpr(expr); err != nil {
			return fmt.Errorf("%s: %s: %w", s.ctor, key, err)
		}
		if key == "failed_when" {
			r.FailedWhen = expr
		} else {
			r.ChangedWhen = expr
		}
	case "signals", "tags":
		list, err := stringList(val)
		if err != nil {
			return fmt.Errorf("%s: parameter %q %w", s.ctor, key, err)
		}
		if key == "signals" {
			r.Signals = list
		} else {
			r.Tags = list
		}
	}
	return err
}

// stringList accepts a string or a list/tuple of strings.
func stringList(v starlark.Value) ([]string, error) {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		return []string{string(x)}, nil
	case starlark.Indexable:
		if _, isStr := x.(starlark.String); !isStr {
			out := make([]string, x.Len())
			for i := range out {
				s, ok := x.Index(i).(starlark.String)
				if !ok {
					return nil, fmt.Errorf("must be a string or a list of strings, not a list holding %s", x.Index(i).Type())
				}
				out[i] = string(s)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("must be a string or a list of strings, not %s", v.Type())
}

// convertParam checks val against kind and converts it to Go. The error
// completes `parameter "x" ...`.
func convertParam(kind paramKind, val starlark.Value) (any, error) {
	if e, ok := val.(evalValue); ok {
		return e.e, nil
	}
	bad := fmt.Errorf("must be %s, not %s", kind.want(), val.Type())
	switch kind {
	case kString:
		switch x := val.(type) {
		case starlark.String:
			return string(x), nil
		case templateValue:
			return x.t, nil
		}
	case kBool:
		if b, ok := val.(starlark.Bool); ok {
			return bool(b), nil
		}
	case kInt:
		if i, ok := val.(starlark.Int); ok {
			return toGo(i)
		}
	case kMode:
		switch x := val.(type) {
		case starlark.Int:
			return toGo(x)
		case starlark.String:
			if !regexp.MustCompile(`^0?[0-7]{3,4}$`).MatchString(string(x)) {
				return nil, fmt.Errorf("must be an octal mode such as \"0644\", not %q", string(x))
			}
			return string(x), nil
		case templateValue:
			return x.t, nil
		}
	case kStrList:
		if t, ok := val.(templateValue); ok {
			return t.t, nil
		}
		list, err := stringList(val)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out, nil
	case kStrDict:
		d, ok := val.(*starlark.Dict)
		if !ok {
			return nil, bad
		}
		out := make(map[string]any, d.Len())
		for _, kv := range d.Items() {
			k, kok := kv[0].(starlark.String)
			if !kok {
				return nil, fmt.Errorf("must be a dict of strings, but key %s is %s", kv[0], kv[0].Type())
			}
			switch v := kv[1].(type) {
			case starlark.String:
				out[string(k)] = string(v)
			case templateValue:
				out[string(k)] = v.t
			case evalValue:
				out[string(k)] = v.e
			default:
				return nil, fmt.Errorf("must be a dict of strings, but %q is %s", string(k), kv[1].Type())
			}
		}
		return out, nil
	}
	return nil, bad
}

// clone returns a copy of r whose Params can be changed without touching
// the policy's own copy (one Expand result per host).
func (r *Resource) clone() *Resource {
	c := *r
	c.Params = deepCopy(r.Params).(map[string]any)
	c.Signals = append([]string(nil), r.Signals...)
	c.Tags = append([]string(nil), r.Tags...)
	return &c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
