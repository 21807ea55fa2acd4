package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// writePolicy writes src as policy.star in a fresh folder and returns its path.
func writePolicy(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.star")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string) *Policy {
	t.Helper()
	p, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	p := mustLoad(t, "testdata/full.star")
	wantDir, _ := filepath.Abs("testdata")
	if p.Dir != wantDir || p.Path != "testdata/full.star" {
		t.Errorf("Dir, Path = %q, %q; want %q, testdata/full.star", p.Dir, p.Path, wantDir)
	}
	wantVars := map[string]any{"enabled": true, "port": int64(8080), "ratio": 0.5, "none": nil}
	if !reflect.DeepEqual(p.Variables, wantVars) {
		t.Errorf("Variables = %#v, want %#v", p.Variables, wantVars)
	}
	if len(p.Roles) != 2 || p.Roles[0].Name != "web" || p.Roles[1].Name != "ops" {
		t.Fatalf("roles = %v", p.Roles)
	}
	web, ops := p.Roles[0], p.Roles[1]
	if got := web.Pos.String(); got != "testdata/full.star:12:7" {
		t.Errorf("web.Pos = %s", got)
	}
	if !reflect.DeepEqual(web.Tags, []string{"web", "any"}) {
		t.Errorf("web.Tags = %v", web.Tags)
	}
	// Push-mode fields: unset on web, set on ops.
	if web.SSHAs != nil || web.Sudo != nil || web.CheckHostKeys != "" || web.Serial != "" || web.MaxFailPercentage != nil {
		t.Errorf("web push fields should be unset: %+v", web)
	}
	pw := "s3cret"
	if !reflect.DeepEqual(ops.SSHAs, &Credential{User: "admin"}) || !reflect.DeepEqual(ops.SudoAs, &Credential{User: "root", Password: &pw}) {
		t.Errorf("ops credentials = %+v %+v", ops.SSHAs, ops.SudoAs)
	}
	if ops.Sudo == nil || !*ops.Sudo || ops.CheckHostKeys != "accept-new" || ops.Serial != "30%" ||
		ops.MaxFailPercentage == nil || *ops.MaxFailPercentage != 10 {
		t.Errorf("ops push fields = sudo %v, keys %q, serial %q, mfp %v", ops.Sudo, ops.CheckHostKeys, ops.Serial, ops.MaxFailPercentage)
	}
	if err := p.Validate(nil); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestExpandFull(t *testing.T) {
	p := mustLoad(t, "testdata/full.star")
	x, err := p.Roles[0].Expand(Host{Name: "web1", Vars: map[string]any{"port": int64(81)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"greeting": "hello web1", "port": int64(81)}; !reflect.DeepEqual(x.Variables, want) {
		t.Errorf("Variables = %v, want %v", x.Variables, want)
	}
	if x.When.Source() != "enabled" {
		t.Errorf("When = %q", x.When.Source())
	}
	type brief struct{ typ, name, pos string }
	var got []brief
	for _, r := range x.Resources {
		got = append(got, brief{r.Type, r.Name, r.Pos.String()})
	}
	want := []brief{
		{"debug", "greeting, port", "testdata/full.star:17:10"},
		{"file", "/etc/motd", "testdata/full.star:19:9"},
		{"directory", "/srv/www", "testdata/full.star:21:10"},
		{"shell", "ls /srv/www", "testdata/full.star:22:11"},
		{"echo", "configuring {{ host_name }}", "testdata/full.star:4:12"},
		{"shell", "systemctl reload nginx", "testdata/full.star:6:20"},
		{"asserts", "port > 0, greeting is defined", "testdata/full.star:31:10"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resources:\n got %v\nwant %v", got, want)
	}
	file := x.Resources[1]
	if want := map[string]any{"from_template": "motd.j2", "mode": int64(0o644), "owner": "root", "group": "root"}; !reflect.DeepEqual(file.Params, want) {
		t.Errorf("File params = %#v", file.Params)
	}
	if !reflect.DeepEqual(file.Signals, []string{"restart"}) || !reflect.DeepEqual(file.Tags, []string{"files"}) {
		t.Errorf("File signals, tags = %v, %v", file.Signals, file.Tags)
	}
	shell := x.Resources[3]
	if shell.Register != "listing" || shell.ChangedWhen != "false" || shell.FailedWhen != "listing.rc > 1" ||
		!shell.IgnoreErrors || shell.When.Source() != "port > 0" {
		t.Errorf("Shell common params = %+v", shell)
	}
	if want := map[string]any{"chdir": "/srv", "timeout": int64(10), "environment": map[string]any{"LANG": "C"}}; !reflect.DeepEqual(shell.Params, want) {
		t.Errorf("Shell params = %#v", shell.Params)
	}
	if tpl, ok := x.Resources[4].Params["msg"].(*Template); !ok || tpl.Src != "configuring {{ host_name }}" {
		t.Errorf("Echo msg = %#v", x.Resources[4].Params["msg"])
	}
	if len(x.Handlers) != 2 || x.Handlers[0].Name != "restart" || x.Handlers[1].Name != "cleanup" ||
		len(x.Handlers[1].Resources) != 2 || x.Handlers[0].Resources[0].Type != "service" {
		t.Errorf("handlers = %+v", x.Handlers)
	}

	// A host whose name does not start with "web" gets one resource less.
	y, err := p.Roles[0].Expand(Host{Name: "db1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(y.Resources) != len(x.Resources)-1 || y.Variables["port"] != int64(80) {
		t.Errorf("db1: %d resources, port %v", len(y.Resources), y.Variables["port"])
	}
}

func TestExpandOps(t *testing.T) {
	p := mustLoad(t, "testdata/full.star")
	x, err := p.Roles[1].Expand(Host{Name: "h"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range x.Resources {
		types = append(types, r.Type)
	}
	if want := []string{"set", "package", "user", "group", "stop"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("types = %v, want %v", types, want)
	}
	set := x.Resources[0]
	vars := set.Params["vars"].(map[string]any)
	if vars["answer"] != int64(42) || !reflect.DeepEqual(vars["words"], []any{"a", "b"}) || set.Name != "answer, words, nested" {
		t.Errorf("Set = %q %#v", set.Name, vars)
	}
	if tpl, ok := vars["nested"].(map[string]any)["k"].(*Template); !ok || tpl.Src != "{{ answer }}" {
		t.Errorf("Set nested = %#v", vars["nested"])
	}
	if want := map[string]any{"uid": int64(1001), "groups": []any{"adm", "sudo"}, "shell": "/bin/bash", "home": "/home/deploy", "system": false}; !reflect.DeepEqual(x.Resources[2].Params, want) {
		t.Errorf("User params = %#v", x.Resources[2].Params)
	}
	stop := x.Resources[4]
	for _, tc := range []struct {
		vars map[string]any
		want bool
	}{{nil, false}, {map[string]any{"stop": true}, true}} {
		got, err := stop.When.Test(Host{Name: "h", Vars: tc.vars})
		if err != nil || got != tc.want {
			t.Errorf("Stop when with %v = %v, %v; want %v", tc.vars, got, err, tc.want)
		}
	}
}

// Expand results belong to the caller: changing one must not change the
// policy or another host's result.
func TestExpandCopies(t *testing.T) {
	p := mustLoad(t, "testdata/full.star")
	a, _ := p.Roles[0].Expand(Host{Name: "web1"})
	a.Resources[1].Params["mode"] = "0600"
	b, _ := p.Roles[0].Expand(Host{Name: "web1"})
	if b.Resources[1].Params["mode"] != int64(0o644) {
		t.Errorf("mode leaked between expansions: %v", b.Resources[1].Params["mode"])
	}
}

func TestExpandConcurrent(t *testing.T) {
	p := mustLoad(t, "testdata/full.star")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := "web" + strings.Repeat("x", i)
			for _, r := range p.Roles {
				x, err := r.Expand(Host{Name: name, Vars: map[string]any{"port": int64(i)}, Facts: map[string]any{"os": "linux"}})
				if err != nil {
					errs <- err
					return
				}
				if r.Name == "web" && x.Variables["greeting"] != "hello "+name {
					errs <- errors.New("wrong greeting " + x.Variables["greeting"].(string))
				}
				for _, res := range x.Resources {
					if _, err := res.When.Test(Host{Name: name, Vars: map[string]any{"port": int64(i), "stop": true}}); err != nil {
						errs <- err
					}
				}
				if _, err := Render("t", "{{ port }} {{ greeting }}", x.Variables); err != nil && r.Name == "web" {
					errs <- err
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCallablesReceiveHost(t *testing.T) {
	path := writePolicy(t, `
def res(host):
    return [Echo(host.name + " " + host.vars["colour"] + " " + host.facts["os"] + " " + str(host.variables["n"]))]
policy = Policy(roles=[Role("r",
    variables=lambda host: {"seen": host.name, "n": host.vars["n"] + 1},
    handlers=lambda host: {"h-" + host.name: Echo("handled")},
    pre=lambda host: Echo("pre " + host.name),
    post=lambda host: [[Echo("post")]],
    resources=res,
    when=lambda host: host.vars["n"] > 1)])
`)
	p := mustLoad(t, path)
	h := Host{Name: "alpha", Vars: map[string]any{"colour": "red", "n": int64(1)}, Facts: map[string]any{"os": "linux"}}
	x, err := p.Roles[0].Expand(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"seen": "alpha", "n": int64(2)}; !reflect.DeepEqual(x.Variables, want) {
		t.Errorf("Variables = %v", x.Variables)
	}
	var names []string
	for _, r := range x.Resources {
		names = append(names, r.Name)
	}
	if want := []string{"pre alpha", "alpha red linux 1", "post"}; !reflect.DeepEqual(names, want) {
		t.Errorf("resources = %q, want %q", names, want)
	}
	if len(x.Handlers) != 1 || x.Handlers[0].Name != "h-alpha" {
		t.Errorf("handlers = %+v", x.Handlers)
	}
	for _, tc := range []struct {
		n    int64
		want bool
	}{{1, false}, {2, true}} {
		got, err := x.When.Test(Host{Name: "alpha", Vars: map[string]any{"n": tc.n}})
		if err != nil || got != tc.want {
			t.Errorf("when with n=%d: %v, %v", tc.n, got, err)
		}
	}
	if got := x.When.Source(); got != "<function lambda>" || !x.When.IsFunc() || BoolCond(true).IsFunc() {
		t.Errorf("Source = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax error", "x = [\n  1,\n  2\npolicy = 3\n", "policy.star:4:7: got identifier, want ']'"},
		{"undefined name", "policy = Policy()\nprint(nope)\n", "policy.star:2:7: undefined: nope"},
		{"unknown parameter", "policy = Policy(roles=[\n    Role(\"x\", resources=[\n        File(\"/a\", mod=1)])])\n",
			`policy.star:3:9: File: unknown parameter "mod"`},
		{"wrong type", "policy = Policy(roles=[Role(\"x\", resources=[\n    File(\"/a\", mode=[1])])])\n",
			`policy.star:2:5: File: parameter "mode" must be an int or string, not list`},
		{"bad mode string", `policy = Policy(roles=[Role("x", resources=[File("/a", mode="rw")])])`,
			`policy.star:1:45: File: parameter "mode" must be an octal mode such as "0644", not "rw"`},
		{"two sources", `policy = Policy(roles=[Role("x", resources=[File("/a", from_file="a", from_content="b")])])`,
			`policy.star:1:45: File: from_file and from_content cannot be used together: choose one source`},
		{"missing name", `policy = Policy(roles=[Role("x", resources=[Directory(mode=1)])])`,
			`policy.star:1:45: Directory: missing name (the first argument)`},
		{"bad register", `policy = Policy(roles=[Role("x", resources=[Shell("ls", register="a b")])])`,
			`policy.star:1:45: Shell: parameter "register" must be a variable name such as "result", not "a b"`},
		{"bad when expression", `policy = Policy(roles=[Role("x", resources=[Shell("ls", when="x ==")])])`,
			`policy.star:1:45: Shell: when: expression "x ==": expected either a number, string, keyword or identifier.`},
		{"bad when type", `policy = Policy(roles=[Role("x", resources=[Shell("ls", when=3)])])`,
			`policy.star:1:45: Shell: when must be True/False, a Jinja expression string, Eval or a function of host, not int`},
		{"bad signals", `policy = Policy(roles=[Role("x", resources=[Shell("ls", signals=[1])])])`,
			`policy.star:1:45: Shell: parameter "signals" must be a string or a list of strings, not a list holding int`},
		{"bad template", `policy = Policy(roles=[Role("x", resources=[Echo(T("{{ x "))])])`,
			`policy.star:1:50: template T: line 1: '}}' expected here`},
		{"bad environment", `policy = Policy(roles=[Role("x", resources=[Shell("ls", environment={"A": 1})])])`,
			`policy.star:1:45: Shell: parameter "environment" must be a dict of strings, but "A" is int`},
		{"unknown role parameter", `policy = Policy(roles=[Role("x", resource=[])])`, `policy.star:1:24: Role: unknown parameter "resource"`},
		{"role resources type", `policy = Policy(roles=[Role("x", resources=3)])`,
			`policy.star:1:24: Role "x": resources: want a resource (File, Shell, ...) or a list of resources, got int 3`},
		{"role function arity", `policy = Policy(roles=[Role("x", resources=lambda: [])])`,
			`policy.star:1:24: Role "x": resources: resources: function lambda must take one argument (host)`},
		{"serial", `policy = Policy(roles=[Role("x", serial="ten")])`,
			`policy.star:1:24: Role "x": parameter "serial" must be a positive int or a percentage such as "30%", not "ten"`},
		{"check_host_keys", `policy = Policy(roles=[Role("x", check_host_keys="maybe")])`,
			`policy.star:1:24: Role "x": parameter "check_host_keys" must be True, False or "accept-new", not "maybe"`},
		{"ssh_as hides password", `policy = Policy(roles=[Role("x", ssh_as=("u", "pw", "extra"))])`,
			`policy.star:1:24: Role "x": parameter "ssh_as" must be ("user", None) or ("user", "password"), not a tuple of other shape`},
		{"duplicate role", `policy = Policy(roles=[Role("x"), Role("x")])`, `policy.star:1:10: Policy: two roles are named "x"`},
		{"non-string dict key", `policy = Policy(variables={1: 2})`, `policy.star:1:10: Policy: variables: dict key 1 must be a string, not int`},
		{"function as a Set value", `policy = Policy(roles=[Role("x", resources=[Set(f=len)])])`,
			`policy.star:1:45: Set: variable "f": a builtin_function_or_method is not a value (want None, bool, int, float, string, list, dict, T or Eval)`},
		{"no policy", "x = 1\n", `policy.star: no Policy: bind one global to it, as in policy = Policy(roles=[...])`},
		{"two policies", "a = Policy()\nb = Policy()\n", `policy.star: 2 globals are Policy values (a, b): keep exactly one`},
		{"load", `load("x.star", "y")`, `policy.star:1:1: cannot load x.star: load() is not supported: keep the policy in one file`},
		{"error in a function", "def f(x):\n    return x + 1\nf(\"a\")\npolicy = Policy()\n", `policy.star:2:14: unknown binary op: string + int`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writePolicy(t, tc.src)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", "")
			if got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Errors raised while expanding for a host point into the policy too.
func TestExpandErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"runtime error in function", "def f(host):\n    return [Echo(\"a\"), 1 + \"x\"]\npolicy = Policy(roles=[Role(\"x\", resources=f)])\n",
			"policy.star:2:26: unknown binary op: int + string"},
		{"bad parameter in function", "def f(host):\n    return [Echo(\"a\"), File(\"/x\", owner=3)]\npolicy = Policy(roles=[Role(\"x\", resources=f)])\n",
			`policy.star:2:24: File: parameter "owner" must be a string, not int`},
		{"function returns junk", "policy = Policy(roles=[Role(\"x\", resources=lambda host: 3)])\n",
			`policy.star:1:24: role "x": resources: want a resource (File, Shell, ...) or a list of resources, got int 3`},
		{"variables not a dict", "policy = Policy(roles=[Role(\"x\", variables=lambda host: [1])])\n",
			`policy.star:1:24: role "x": variables must be a dict, not list`},
		{"missing var", "policy = Policy(roles=[Role(\"x\", variables=lambda host: {\"a\": host.vars[\"nope\"]})])\n",
			`policy.star:1:72: key "nope" not in dict`},
		{"unknown signal", "policy = Policy(roles=[Role(\"x\", resources=[Echo(\"a\", signals=\"nope\")])])\n",
			`policy.star:1:45: echo: signals "nope", but role "x" has no such handler`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writePolicy(t, tc.src)
			p := mustLoad(t, path)
			err := p.Validate(nil)
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", "")
			if got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestValidateCollectsAll(t *testing.T) {
	path := writePolicy(t, `policy = Policy(roles=[
    Role("a", resources=lambda host: 1),
    Role("b", resources=lambda host: 2),
])`)
	err := mustLoad(t, path).Validate(nil)
	if err == nil || strings.Count(err.Error(), "\n") != 1 || !strings.Contains(err.Error(), `role "a"`) || !strings.Contains(err.Error(), `role "b"`) {
		t.Errorf("Validate = %v, want two errors", err)
	}
}

func TestBuiltins(t *testing.T) {
	// Each constructor with its type-specific parameters; the resource's
	// Type, Name and Params are checked.
	for _, tc := range []struct {
		src, typ, name string
		params         map[string]any
	}{
		{`File("/a", from_content="x", owner="o", group="g", mode="0600", absent=False, overwrite=True)`, "file", "/a",
			map[string]any{"from_content": "x", "owner": "o", "group": "g", "mode": "0600", "absent": false, "overwrite": true}},
		{`File(name="/b", from_file="f.txt")`, "file", "/b", map[string]any{"from_file": "f.txt"}},
		{`File("/c", absent=True, mode=None)`, "file", "/c", map[string]any{"absent": true}},
		{`Directory("/d", owner="o", group="g", mode=0o755, absent=False, recursive=True)`, "directory", "/d",
			map[string]any{"owner": "o", "group": "g", "mode": int64(0o755), "absent": false, "recursive": true}},
		{`Shell("echo hi", creates="/x", removes="/y", chdir="/", timeout=5, environment={"A": "b"})`, "shell", "echo hi",
			map[string]any{"creates": "/x", "removes": "/y", "chdir": "/", "timeout": int64(5), "environment": map[string]any{"A": "b"}}},
		{`Shell(cmd="true")`, "shell", "true", map[string]any{}},
		{`Echo("hello")`, "echo", "hello", map[string]any{"msg": "hello"}},
		{`Stop("enough")`, "stop", "enough", map[string]any{"msg": "enough"}},
		{`Debug()`, "debug", "", map[string]any{"names": []any{}}},
		{`Debug("a", "b")`, "debug", "a, b", map[string]any{"names": []any{"a", "b"}}},
		{`Set(a=1, b="x", c=[1, 2.5], d={"k": None})`, "set", "a, b, c, d",
			map[string]any{"vars": map[string]any{"a": int64(1), "b": "x", "c": []any{int64(1), 2.5}, "d": map[string]any{"k": nil}}}},
		{`Asserts("a == 1", "b is defined")`, "asserts", "a == 1, b is defined", map[string]any{"expressions": []any{"a == 1", "b is defined"}}},
		{`Package("nginx", version="1.2", latest=False, absent=False, update_cache=True, method="apt")`, "package", "nginx",
			map[string]any{"version": "1.2", "latest": false, "absent": false, "update_cache": true, "method": "apt"}},
		{`Service("nginx", started=True, enabled=True, restarted=False, method="systemd")`, "service", "nginx",
			map[string]any{"started": true, "enabled": true, "restarted": false, "method": "systemd"}},
		{`User("bob", uid=1000, group="bob", groups="adm", home="/home/bob", shell="/bin/sh", system=False, absent=False)`, "user", "bob",
			map[string]any{"uid": int64(1000), "group": "bob", "groups": []any{"adm"}, "home": "/home/bob", "shell": "/bin/sh", "system": false, "absent": false}},
		{`Group("staff", gid=50, system=True, absent=False)`, "group", "staff", map[string]any{"gid": int64(50), "system": true, "absent": false}},
		{`File("/e", mode=Eval("m"), owner=T("{{ u }}"))`, "file", "/e",
			map[string]any{"mode": &Eval{Expr: "m"}, "owner": &Template{Src: "{{ u }}"}}},
	} {
		t.Run(tc.src, func(t *testing.T) {
			path := writePolicy(t, "policy = Policy(roles=[Role(\"r\", resources=["+tc.src+"])])\n")
			x, err := mustLoad(t, path).Roles[0].Expand(Host{Name: "h"})
			if err != nil {
				t.Fatal(err)
			}
			r := x.Resources[0]
			stripPositions(r.Params)
			if r.Type != tc.typ || r.Name != tc.name || !reflect.DeepEqual(r.Params, tc.params) {
				t.Errorf("got %s %q %#v\nwant %s %q %#v", r.Type, r.Name, r.Params, tc.typ, tc.name, tc.params)
			}
			if got := r.Pos.String(); got != path+":1:45" {
				t.Errorf("Pos = %s", got)
			}
		})
	}
}

// stripPositions clears the positions of T/Eval values so tests can
// compare them with DeepEqual.
func stripPositions(m map[string]any) {
	for _, v := range m {
		switch x := v.(type) {
		case *Template:
			x.Pos = Position{}
		case *Eval:
			x.Pos = Position{}
		}
	}
}

func TestCommonParams(t *testing.T) {
	path := writePolicy(t, `policy = Policy(roles=[Role("r", resources=[
    Shell("a", when=True, register="r1", ignore_errors=True, failed_when="r1.rc > 2", changed_when=False,
          signals=["h1", "h2"], tags="t"),
    Shell("b", when=Eval("x"), changed_when=Eval("r1.rc == 0")),
    Shell(T("echo {{ x }}")),
], handlers={"h1": Echo("1"), "h2": Echo("2")})])`)
	p := mustLoad(t, path)
	x, err := p.Roles[0].Expand(Host{Name: "h"})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := x.Resources[0], x.Resources[1], x.Resources[2]
	if a.When.Source() != "True" || a.Register != "r1" || !a.IgnoreErrors || a.FailedWhen != "r1.rc > 2" ||
		a.ChangedWhen != "false" || !reflect.DeepEqual(a.Signals, []string{"h1", "h2"}) || !reflect.DeepEqual(a.Tags, []string{"t"}) {
		t.Errorf("a = %+v", a)
	}
	if b.When.Source() != "x" || b.ChangedWhen != "r1.rc == 0" || b.When.IsSet() == false || c.When.IsSet() {
		t.Errorf("b = %+v", b)
	}
	if c.NameTemplate == nil || c.Name != "echo {{ x }}" {
		t.Errorf("c = %+v", c)
	}
	if err := p.Validate(nil); err != nil {
		t.Error(err)
	}
}

func TestInventory(t *testing.T) {
	p := mustLoad(t, "testdata/inventory.star")
	hostNames := func(r *Role) []string {
		var out []string
		for _, h := range r.Inventory.Hosts() {
			out = append(out, h.Name)
		}
		return out
	}
	if got := hostNames(p.Roles[0]); !reflect.DeepEqual(got, []string{"web1", "web2"}) {
		t.Errorf("web hosts = %v", got)
	}
	if got := hostNames(p.Roles[1]); !reflect.DeepEqual(got, []string{"db1"}) {
		t.Errorf("db hosts = %v", got)
	}
	db := p.Roles[1]
	if db.SSHAs == nil || db.SSHAs.User != "root" || db.SSHAs.Password != nil || db.CheckHostKeys != "false" || db.Serial != "5" {
		t.Errorf("db push fields = %+v", db)
	}
}

func TestInventoryMissing(t *testing.T) {
	path := writePolicy(t, `policy = Policy(roles=[Role("r", inventory=TomlInventory("nope.toml"))])`)
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1:44: TomlInventory: ") || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("err = %v", err)
	}
}

func TestCondTest(t *testing.T) {
	path := writePolicy(t, `
def big(host):
    return host.vars["n"] > 10
policy = Policy(roles=[Role("r", when=big)])`)
	fn := mustLoad(t, path).Roles[0].when
	for _, tc := range []struct {
		name string
		c    Cond
		vars map[string]any
		want bool
		src  string
	}{
		{"unset", Cond{}, nil, true, ""},
		{"true", BoolCond(true), nil, true, "True"},
		{"false", BoolCond(false), nil, false, "False"},
		{"expr true", ExprCond("result.rc == 0"), map[string]any{"result": map[string]any{"rc": int64(0)}}, true, "result.rc == 0"},
		{"expr false", ExprCond("result.rc == 0"), map[string]any{"result": map[string]any{"rc": int64(2)}}, false, "result.rc == 0"},
		{"expr empty string", ExprCond("s"), map[string]any{"s": ""}, false, "s"},
		{"expr in", ExprCond("'a' in l"), map[string]any{"l": []any{"a"}}, true, "'a' in l"},
		{"callable true", fn, map[string]any{"n": int64(11)}, true, "<function big>"},
		{"callable false", fn, map[string]any{"n": int64(1)}, false, "<function big>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Test(Host{Name: "h", Vars: tc.vars})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || tc.c.Source() != tc.src || tc.c.IsSet() != (tc.src != "") {
				t.Errorf("Test = %v, Source %q, IsSet %v; want %v, %q", got, tc.c.Source(), tc.c.IsSet(), tc.want, tc.src)
			}
		})
	}
	if _, err := ExprCond("nope").Test(Host{}); err == nil || err.Error() != `when: expression "nope": undefined variable "nope"` {
		t.Errorf("undefined: %v", err)
	}
	if _, err := fn.Test(Host{Name: "h"}); err == nil || !strings.HasSuffix(err.Error(), `:3:21: key "n" not in dict`) {
		t.Errorf("callable error: %v", err)
	}
}
