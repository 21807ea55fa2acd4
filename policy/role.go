package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/opsmop/opsmop/inventory"
)

// Credential is a user and an optional password (ssh_as, sudo_as).
type Credential struct {
	User     string
	Password *string
}

// Role is one Role(...) of the policy. The push-mode fields are zero when
// the role does not set them, so inventory values and defaults apply.
type Role struct {
	Name string
	Pos  Position
	Tags []string

	Inventory         *inventory.Inventory
	SSHAs             *Credential
	Sudo              *bool
	SudoAs            *Credential
	CheckHostKeys     string // "", "true", "false" or "accept-new"
	Serial            string // "", "5" or "30%"
	MaxFailPercentage *int
	// Canary runs the role on one host first, alone, before the batches.
	Canary bool

	rt *runtime
	// Each is a value or a function of the host; nil when not given.
	variables, resources, handlers, pre, post starlark.Value
	when                                      Cond
}

// Host is what role functions and conditions see of a host.
type Host struct {
	Name  string
	Vars  map[string]any
	Facts map[string]any
}

// Expanded is a role evaluated for one host.
type Expanded struct {
	Variables map[string]any
	When      Cond
	Resources []*Resource // pre, resources, post, flattened in order
	Handlers  []*Handler  // in definition order
}

// Handler is a named group of resources run at the end of the role when
// signalled.
type Handler struct {
	Name      string
	Resources []*Resource
}

// roleValue is the Starlark face of a Role.
type roleValue struct{ r *Role }

func (v *roleValue) String() string        { return fmt.Sprintf("Role(%q)", v.r.Name) }
func (v *roleValue) Type() string          { return "Role" }
func (v *roleValue) Freeze()               {}
func (v *roleValue) Truth() starlark.Bool  { return true }
func (v *roleValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: Role") }

// Expand evaluates the role's fields for host h, calling those that are
// functions. Each call gets its own thread, so Expand may run for many
// hosts at once.
func (r *Role) Expand(h Host) (*Expanded, error) {
	x := &Expanded{When: r.when, Variables: map[string]any{}}
	call := r.caller(h)
	v, err := field(r.variables, call)
	if err != nil {
		return nil, err
	}
	switch d := v.(type) {
	case nil, starlark.NoneType:
	case *starlark.Dict:
		if x.Variables, err = dictToGo(d); err != nil {
			return nil, r.errorf("variables: %v", err)
		}
	default:
		return nil, r.errorf("variables must be a dict, not %s", v.Type())
	}
	for _, f := range []struct {
		name string
		v    starlark.Value
	}{{"pre", r.pre}, {"resources", r.resources}, {"post", r.post}} {
		v, err := field(f.v, call)
		if err != nil {
			return nil, err
		}
		if x.Resources, err = flatten(x.Resources, v, call); err != nil {
			return nil, r.wrap(f.name, err)
		}
	}
	if x.Handlers, err = r.expandHandlers(call); err != nil {
		return nil, err
	}
	return x, nil
}

func (r *Role) errorf(format string, args ...any) *Error {
	return errorAt(r.Pos, "role %q: %s", r.Name, fmt.Sprintf(format, args...))
}

// caller returns a function calling role functions with h. The host's
// values are converted to Starlark once, on the first call.
func (r *Role) caller(h Host) func(starlark.Callable) (starlark.Value, error) {
	var hv *hostValue
	return func(fn starlark.Callable) (starlark.Value, error) {
		if hv == nil {
			var err error
			if hv, err = newHostValue(h); err != nil {
				return nil, err
			}
		}
		return r.rt.call(fn, hv)
	}
}

// wrap positions err at the role unless it already has a position (an
// error raised inside a policy function).
func (r *Role) wrap(what string, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return r.errorf("%s: %v", what, err)
}

// field returns v, or call(v) when v is a function.
func field(v starlark.Value, call func(starlark.Callable) (starlark.Value, error)) (starlark.Value, error) {
	fn, ok := v.(starlark.Callable)
	if !ok {
		return v, nil
	}
	return call(fn)
}

func (r *Role) expandHandlers(call func(starlark.Callable) (starlark.Value, error)) ([]*Handler, error) {
	v, err := field(r.handlers, call)
	if err != nil {
		return nil, err
	}
	var d *starlark.Dict
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case *starlark.Dict:
		d = x
	default:
		return nil, r.errorf("handlers must be a dict of name to resources, not %s", v.Type())
	}
	var out []*Handler
	for _, kv := range d.Items() { // Items keeps insertion order
		name, ok := kv[0].(starlark.String)
		if !ok {
			return nil, r.errorf("handlers: name %s must be a string, not %s", kv[0], kv[0].Type())
		}
		res, err := flatten(nil, kv[1], call)
		if err != nil {
			return nil, r.wrap(fmt.Sprintf("handler %q", string(name)), err)
		}
		out = append(out, &Handler{Name: string(name), Resources: res})
	}
	return out, nil
}

// flatten appends the resources in v (a resource, a function of the host
// returning resources, or nested lists of these) to out, as copies. With
// a nil call, functions are only checked, not called (load time).
func flatten(out []*Resource, v starlark.Value, call func(starlark.Callable) (starlark.Value, error)) ([]*Resource, error) {
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return out, nil
	case *resourceValue:
		return append(out, x.r.clone()), nil
	case *starlark.List, starlark.Tuple:
		seq := x.(starlark.Indexable)
		for i := 0; i < seq.Len(); i++ {
			var err error
			if out, err = flatten(out, seq.Index(i), call); err != nil {
				return nil, err
			}
		}
		return out, nil
	case starlark.Callable:
		if call == nil {
			return out, checkHostFunc("resources", x)
		}
		res, err := call(x)
		if err != nil {
			return nil, err
		}
		return flatten(out, res, call)
	}
	return nil, fmt.Errorf("want a resource (File, Shell, ...) or a list of resources, got %s %s", v.Type(), v)
}

// checkShape validates a field that is not a function, at load time.
func checkShape(name string, v starlark.Value) error {
	if _, ok := v.(starlark.Callable); ok {
		return checkHostFunc(name, v.(starlark.Callable))
	}
	switch name {
	case "variables":
		if d, ok := v.(*starlark.Dict); ok {
			_, err := dictToGo(d)
			return err
		}
		if v != starlark.None {
			return fmt.Errorf("must be a dict or a function of host, not %s", v.Type())
		}
	case "handlers":
		d, ok := v.(*starlark.Dict)
		if !ok {
			if v != starlark.None {
				return fmt.Errorf("must be a dict of name to resources or a function of host, not %s", v.Type())
			}
			return nil
		}
		for _, kv := range d.Items() {
			if _, ok := kv[0].(starlark.String); !ok {
				return fmt.Errorf("name %s must be a string, not %s", kv[0], kv[0].Type())
			}
			if _, err := flatten(nil, kv[1], nil); err != nil {
				return fmt.Errorf("%q: %v", kv[0].(starlark.String), err)
			}
		}
	default:
		_, err := flatten(nil, v, nil)
		return err
	}
	return nil
}

var roleParams = []string{
	"name", "variables", "resources", "handlers", "when", "pre", "post", "tags",
	"inventory", "ssh_as", "sudo", "sudo_as", "check_host_keys", "serial", "max_fail_percentage",
	"canary",
}

var serialRE = regexp.MustCompile(`^[1-9][0-9]*%?$`)

func roleBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rt := threadRuntime(thread)
	if len(args) > 1 {
		return nil, fmt.Errorf("Role: takes 1 positional argument (name), got %d", len(args))
	}
	r := &Role{rt: rt, Pos: rt.callerPos(thread)}
	given := map[string]starlark.Value{}
	if len(args) == 1 {
		given["name"] = args[0]
	}
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if !contains(roleParams, k) {
			return nil, fmt.Errorf("Role: unknown parameter %q", k)
		}
		if _, dup := given[k]; dup {
			return nil, fmt.Errorf("Role: %s given twice", k)
		}
		given[k] = kv[1]
	}
	name, ok := given["name"].(starlark.String)
	if !ok || name == "" {
		return nil, fmt.Errorf("Role: name must be a non-empty string")
	}
	r.Name = string(name)
	for _, k := range roleParams[1:] {
		v, ok := given[k]
		if !ok || v == starlark.None {
			continue
		}
		if err := r.set(rt, k, v); err != nil {
			return nil, fmt.Errorf("Role %q: %w", r.Name, err)
		}
	}
	return &roleValue{r}, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// set stores one Role parameter after checking it.
func (r *Role) set(rt *runtime, k string, v starlark.Value) error {
	switch k {
	case "variables", "resources", "handlers", "pre", "post":
		if err := checkShape(k, v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "variables":
			r.variables = v
		case "resources":
			r.resources = v
		case "handlers":
			r.handlers = v
		case "pre":
			r.pre = v
		case "post":
			r.post = v
		}
	case "when":
		c, err := parseCond(rt, "when", v)
		if err != nil {
			return err
		}
		r.when = c
	case "tags":
		list, err := stringList(v)
		if err != nil {
			return fmt.Errorf("parameter \"tags\" %w", err)
		}
		r.Tags = list
	case "inventory":
		inv, ok := v.(*inventoryValue)
		if !ok {
			return fmt.Errorf("parameter \"inventory\" must be TomlInventory(...), not %s", v.Type())
		}
		r.Inventory = inv.inv
	case "ssh_as", "sudo_as":
		c, err := credential(v)
		if err != nil {
			return fmt.Errorf("parameter %q %w", k, err)
		}
		if k == "ssh_as" {
			r.SSHAs = c
		} else {
			r.SudoAs = c
		}
	case "sudo":
		b, ok := v.(starlark.Bool)
		if !ok {
			return fmt.Errorf("parameter \"sudo\" must be True or False, not %s", v.Type())
		}
		sudo := bool(b)
		r.Sudo = &sudo
	case "check_host_keys":
		switch x := v.(type) {
		case starlark.Bool:
			r.CheckHostKeys = strconv.FormatBool(bool(x))
		case starlark.String:
			if x != "accept-new" && x != "true" && x != "false" {
				return fmt.Errorf("parameter \"check_host_keys\" must be True, False or \"accept-new\", not %q", string(x))
			}
			r.CheckHostKeys = string(x)
		default:
			return fmt.Errorf("parameter \"check_host_keys\" must be True, False or \"accept-new\", not %s", v.Type())
		}
	case "serial":
		switch x := v.(type) {
		case starlark.Int:
			n, ok := x.Int64()
			if !ok || n < 1 {
				return fmt.Errorf("parameter \"serial\" must be a positive int or a percentage such as \"30%%\", not %s", x)
			}
			r.Serial = strconv.FormatInt(n, 10)
		case starlark.String:
			if !serialRE.MatchString(string(x)) {
				return fmt.Errorf("parameter \"serial\" must be a positive int or a percentage such as \"30%%\", not %q", string(x))
			}
			if n, _ := strconv.Atoi(string(x[:len(x)-1])); x[len(x)-1] == '%' && n > 100 {
				return fmt.Errorf("parameter \"serial\" must be at most 100%%, not %q", string(x))
			}
			r.Serial = string(x)
		default:
			return fmt.Errorf("parameter \"serial\" must be an int or a string such as \"30%%\", not %s", v.Type())
		}
	case "max_fail_percentage":
		x, ok := v.(starlark.Int)
		if !ok {
			return fmt.Errorf("parameter \"max_fail_percentage\" must be an int from 0 to 100, not %s", v.Type())
		}
		n, small := x.Int64()
		if !small || n < 0 || n > 100 {
			return fmt.Errorf("parameter \"max_fail_percentage\" must be an int from 0 to 100, not %s", x)
		}
		p := int(n)
		r.MaxFailPercentage = &p
	case "canary":
		b, ok := v.(starlark.Bool)
		if !ok {
			return fmt.Errorf("parameter \"canary\" must be True or False, not %s", v.Type())
		}
		r.Canary = bool(b)
	}
	return nil
}

// credential reads ("user", None|"password") or "user".
func credential(v starlark.Value) (*Credential, error) {
	if s, ok := v.(starlark.String); ok {
		return &Credential{User: string(s)}, nil
	}
	seq, ok := v.(starlark.Indexable)
	// Never print v: it may hold a password.
	if !ok || seq.Len() != 2 {
		return nil, fmt.Errorf("must be (\"user\", None) or (\"user\", \"password\"), not a %s of other shape", v.Type())
	}
	user, ok := seq.Index(0).(starlark.String)
	if !ok || user == "" {
		return nil, fmt.Errorf("must start with a user name string, not %s", seq.Index(0).Type())
	}
	c := &Credential{User: string(user)}
	switch pw := seq.Index(1).(type) {
	case starlark.NoneType:
	case starlark.String:
		p := string(pw)
		c.Password = &p
	default:
		return nil, fmt.Errorf("password must be a string or None, not %s", pw.Type())
	}
	return c, nil
}
