package controller

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const basicPolicy = `
def res(host):
    return [
        Directory("ROOT/out", mode=0o750),
        File("ROOT/out/motd", from_template="motd.j2", mode=0o640, signals="notify"),
        File("ROOT/out/copy.bin", from_file="files/big.bin"),
        Shell("echo hello from shell; echo to stderr >&2", register="said"),
        Echo(T("shell said {{ said.stdout | trim }}")),
    ]

policy = Policy(
    variables={"who": "policy"},
    roles=[Role("base", variables={"colour": "blue"}, resources=res,
                handlers={"notify": Echo("handler ran"), "never": Echo("never runs")})],
)
`

func basicFiles() map[string]string {
	return map[string]string{
		"policy.star":   basicPolicy,
		"motd.j2":       "hello {{ who }} in {{ colour }}\n",
		"files/big.bin": strings.Repeat("0123456789abcdef", 10<<10), // 160 KiB: sent by reference
	}
}

func TestApplyThenIdempotent(t *testing.T) {
	dir, path := writePolicy(t, basicFiles())
	rec, sum, err := runPolicy(t, path, false)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "out/motd")); got != "hello policy in blue\n" {
		t.Fatalf("motd = %q", got)
	}
	if readFile(t, filepath.Join(dir, "out/copy.bin")) != basicFiles()["files/big.bin"] {
		t.Fatal("copy.bin differs from its source")
	}
	assertMode(t, filepath.Join(dir, "out/motd"), 0o640)
	assertMode(t, filepath.Join(dir, "out"), 0o750)
	if !slices.Contains(rec.outputs(), "shell said hello from shell") {
		t.Fatalf("registered stdout not seen by a later template: %q", rec.outputs())
	}
	if hs := rec.kind(EvHandler); len(hs) != 1 || hs[0].Resource != "notify" {
		t.Fatalf("handlers = %+v, want notify once", hs)
	}
	if res, _ := sum.Changed(); res != 4 {
		t.Fatalf("first apply changed %d resources, want 4: %v", res, rec.statuses(""))
	}

	rec, sum, err = runPolicy(t, path, false)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	// Shell always runs: it is the one change of a second apply.
	if res, _ := sum.Changed(); res != 1 {
		t.Fatalf("second apply changed %d, want only the shell: %v", res, rec.statuses(""))
	}
	if hs := rec.kind(EvHandler); len(hs) != 0 {
		t.Fatalf("handler ran without a signalling change: %+v", hs)
	}
}

func TestCheckChangesNothing(t *testing.T) {
	dir, path := writePolicy(t, basicFiles())
	rec, sum, err := runPolicy(t, path, true)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("check created out/: %v", err)
	}
	if res, _ := sum.Changed(); res != 4 {
		t.Fatalf("check reports %d changes, want 4: %v", res, rec.statuses(""))
	}
	hs := rec.kind(EvHandler)
	if len(hs) != 1 || hs[0].Status != "would run" {
		t.Fatalf("handlers in check mode = %+v, want notify 'would run'", hs)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s mode %o, want %o", path, st.Mode().Perm(), want)
	}
}

// TestBatching pins the number of calls a host costs: none for hello and
// facts (the worker announces them unasked), one run call for independent
// resources, and another only for a dependency on a registered result.
func TestBatching(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		wantCalls int // run calls
	}{
		{"independent resources share one call", `[Shell("true"), Shell("true"), File("ROOT/a", from_content="a"), Directory("ROOT/d")]`, 1},
		{"register without a reader", `[Shell("echo x", register="r"), Shell("true"), Shell("true")]`, 1},
		{"when on a registered result", `[Shell("echo x", register="r"), Shell("true", when="r.rc == 0"), Shell("true")]`, 2},
		{"template reading a registered result", `[Shell("echo x", register="r"), File("ROOT/b", from_content=T("{{ r.stdout }}"))]`, 2},
		{"failed_when ends a batch", `[Shell("true", failed_when="rc != 0"), Shell("true")]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path := writePolicy(t, map[string]string{"policy.star": "policy = Policy(roles=[Role('r', resources=" + tt.resources + ")])"})
			rec, sum, err := runPolicy(t, path, false)
			if err != nil {
				t.Fatalf("run: %v %v", err, rec.statuses(""))
			}
			if got := sum.Hosts[0].Calls; got != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestResourceSemantics(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		wantErr   bool
		want      []string // resource=status in order
		wantOut   []string // lines that must be among the output
	}{
		{"failure stops the role", `[Shell("exit 3"), Shell("echo never")]`, true,
			[]string{"shell exit 3=failed", "shell echo never=skipped"}, nil},
		{"ignore_errors goes on", `[Shell("exit 3", ignore_errors=True), Shell("true")]`, false,
			[]string{"shell exit 3=failed", "shell true=changed"}, nil},
		{"failed_when overrides rc", `[Shell("exit 3", failed_when="rc != 3"), Shell("true")]`, false,
			[]string{"shell exit 3=changed", "shell true=changed"}, nil},
		{"changed_when false", `[Shell("true", changed_when="False")]`, false,
			[]string{"shell true=ok"}, nil},
		{"when false skips", `[Shell("true", when="1 == 2"), Shell("true", when=False)]`, false,
			[]string{"shell true=skipped", "shell true=skipped"}, nil},
		{"when on registered rc", `[Shell("exit 1", register="r", ignore_errors=True), Echo("rc was {{ r.rc }}", when="r.failed")]`, false,
			[]string{"shell exit 1=failed", "echo=ok"}, []string{"rc was 1"}},
		{"set then use", `[Set(color="red", n=Eval("2 * 21")), Echo("{{ color }} {{ n }}")]`, false,
			[]string{"set=ok", "echo=ok"}, []string{"red 42"}},
		{"asserts pass and fail", `[Asserts("1 < 2"), Asserts("1 > 2"), Echo("never")]`, true,
			[]string{"asserts=ok", "asserts=failed"}, nil},
		{"stop ends the host", `[Stop("enough"), Echo("never")]`, true,
			[]string{"stop=failed"}, nil},
		{"debug prints variables", `[Set(x=5), Debug("x")]`, false,
			[]string{"set=ok", "debug=ok"}, []string{"x = 5"}},
		{"debug hides passwords", `[Set(db_password="hunter2"), Debug("db_password")]`, false,
			[]string{"set=ok", "debug=ok"}, []string{"db_password = <hidden>"}},
		{"function when sees registered", `[Shell("echo hi", register="r"), Echo("seen", when=lambda host: host.vars["r"]["stdout"] == "hi")]`, false,
			[]string{"shell echo hi=changed", "echo=ok"}, []string{"seen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path := writePolicy(t, map[string]string{"policy.star": "policy = Policy(roles=[Role('r', resources=" + tt.resources + ")])"})
			rec, _, err := runPolicy(t, path, false)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := rec.statuses(""); !slices.Equal(got, tt.want) {
				t.Fatalf("statuses\n got %q\nwant %q", got, tt.want)
			}
			for _, w := range tt.wantOut {
				if !slices.Contains(rec.outputs(), w) {
					t.Fatalf("output %q lacks %q", rec.outputs(), w)
				}
			}
		})
	}
}

func TestTags(t *testing.T) {
	pol := `policy = Policy(roles=[Role('r', tags=["role"], resources=[
    Echo("a", tags="web"), Echo("b", tags=["db"]), Echo("c", tags="always"), Echo("d")])])`
	tests := []struct {
		name       string
		tags, skip []string
		want       []string
	}{
		{"no selection runs all", nil, nil, []string{"a", "b", "c", "d"}},
		{"tags select", []string{"web"}, nil, []string{"a", "c"}},
		{"role tag selects all", []string{"role"}, nil, []string{"a", "b", "c", "d"}},
		{"skip tags", nil, []string{"db"}, []string{"a", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path := writePolicy(t, map[string]string{"policy.star": pol})
			rec, _, err := runPolicy(t, path, false, func(o *Options) { o.Tags, o.SkipTags = tt.tags, tt.skip })
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.outputs(); !slices.Equal(got, tt.want) {
				t.Fatalf("ran %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtraVarsWin(t *testing.T) {
	pol := `policy = Policy(variables={"v": "policy"}, roles=[Role('r', variables={"v": "role"}, resources=[Echo("{{ v }}")])])`
	_, path := writePolicy(t, map[string]string{"policy.star": pol})
	rec, _, err := runPolicy(t, path, false)
	if err != nil || !slices.Equal(rec.outputs(), []string{"role"}) {
		t.Fatalf("role over policy: %v %q", err, rec.outputs())
	}
	rec, _, err = runPolicy(t, path, false, func(o *Options) { o.ExtraVars = map[string]any{"v": "extra"} })
	if err != nil || !slices.Equal(rec.outputs(), []string{"extra"}) {
		t.Fatalf("extra over role: %v %q", err, rec.outputs())
	}
}

func TestPolicyErrors(t *testing.T) {
	tests := []struct {
		name, policy string
		want         string
	}{
		{"syntax", "policy = Policy(roles=[\n", "policy.star:2:1: "},
		{"unknown parameter", `policy = Policy(roles=[Role("r", resources=[File("/x", mod=1)])])`, `File: unknown parameter "mod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path := writePolicy(t, map[string]string{"policy.star": tt.policy})
			_, _, err := runPolicy(t, path, false)
			var pe *PolicyError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a PolicyError containing %q", err, tt.want)
			}
		})
	}
}

func TestRuntimeTemplateErrorFailsResource(t *testing.T) {
	dir, path := writePolicy(t, map[string]string{
		"policy.star": `policy = Policy(roles=[Role("r", resources=[File("ROOT/x", from_template="t.j2")])])`,
		"t.j2":        "line one\n{{ missing }}\n",
	})
	rec, _, err := runPolicy(t, path, false)
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `undefined variable "missing"`) {
		t.Fatalf("err = %v, want a PolicyError: the policy is at fault", err)
	}
	res := rec.kind(EvResult)
	if len(res) != 1 || !strings.Contains(res[0].Result.Msg, `template t.j2: line 2: undefined variable "missing"`) {
		t.Fatalf("results %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file written despite the template error")
	}
}

func TestStatFacts(t *testing.T) {
	dir, path := writePolicy(t, map[string]string{"policy.star": `policy = Policy(roles=[Role('r', resources=[
    Stat("ROOT/policy.star", register="p"), Stat("ROOT/nope", register="n"),
    Echo("{{ p.data.exists }} {{ p.data.is_file }} {{ p.data.mode }} {{ n.data.exists }}"),
    Echo("skipped", when="n.data.exists")])])`})
	rec, _, err := runPolicy(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.outputs(); !slices.Equal(got, []string{"True True 0644 False"}) {
		t.Fatalf("outputs %q (dir %s)", got, dir)
	}
}

// TestResultsInPolicyOrder: a skipped resource is reported after the
// resources before it in its batch, not before they ran.
func TestResultsInPolicyOrder(t *testing.T) {
	_, path := writePolicy(t, map[string]string{"policy.star": `policy = Policy(roles=[Role('r', resources=[
    Shell("true"), Shell("false", when=False), Shell("echo 1"), Shell("echo 2", when=False), Shell("echo 3")])])`})
	rec, _, err := runPolicy(t, path, false)
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, e := range rec.kind(EvResult) {
		idx = append(idx, e.Index)
	}
	if !slices.Equal(idx, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("result order %v", idx)
	}
}

// TestShellCheckModeFalse: a read-only Shell marked check_mode=False runs
// in check mode too, so what it registers is real there; others do not run.
func TestShellCheckModeFalse(t *testing.T) {
	dir, path := writePolicy(t, map[string]string{"policy.star": `policy = Policy(roles=[Role('r', resources=[
    Shell("echo probed", register="p", check_mode=False, changed_when="False"),
    Shell("touch ROOT/touched"),
    Echo("{{ p.stdout }}"),
])])`})
	rec, _, err := runPolicy(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.outputs(); !slices.Contains(got, "probed") {
		t.Fatalf("outputs %q: the read-only shell did not run in check mode", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "touched")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an ordinary shell ran in check mode")
	}
}
