package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTimeout bounds one run of the binary so a hang fails the test instead
// of the whole test binary.
const runTimeout = 2 * time.Minute

// invocation is one finished run of the binary.
type invocation struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r invocation) String() string {
	return fmt.Sprintf("opsmop %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// opsmop runs the built binary in dir (the test's directory when empty),
// without colours, and fails the test if a Go panic or stack trace reaches
// stderr, whatever the command.
func opsmop(t *testing.T, dir string, args ...string) invocation {
	t.Helper()
	return opsmopWith(t, opsmopBinary(t), dir, args...)
}

func opsmopWith(t *testing.T, bin, dir string, args ...string) invocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := invocation{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		r.code = exit.ExitCode()
	default:
		t.Fatalf("opsmop %s: %v (timeout %s)\n%s", strings.Join(args, " "), err, runTimeout, r)
	}
	assertNoPanic(t, r.stderr, r)
	return r
}

// assertNoPanic fails when text looks like a Go panic or stack trace.
func assertNoPanic(t *testing.T, text string, context fmt.Stringer) {
	t.Helper()
	for _, bad := range []string{"goroutine", "panic", "runtime/debug", ".go:"} {
		if strings.Contains(text, bad) {
			t.Fatalf("stderr holds %q, a Go panic or stack trace reached the user:\n%s", bad, context)
		}
	}
}

func wantExit(t *testing.T, r invocation, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\n%s", r.code, code, r)
	}
}

// testdata returns the absolute path of a file under testdata/local.
func testdata(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "local", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// --- JSON events -----------------------------------------------------------

// event mirrors one line of --json output (controller/events.go). It is
// declared here, not imported, so the test pins the wire format.
type event struct {
	Kind     string   `json:"event"`
	Time     string   `json:"time"`
	Host     string   `json:"host"`
	Role     string   `json:"role"`
	Index    int      `json:"index"`
	Resource string   `json:"resource"`
	Status   string   `json:"status"`
	Actions  []string `json:"actions"`
	Stream   string   `json:"stream"`
	Line     string   `json:"line"`
	Result   *result  `json:"result"`
	Error    string   `json:"error"`
	Check    bool     `json:"check"`
	Summary  *summary `json:"summary"`
}

type result struct {
	Status  string   `json:"status"`
	Actions []string `json:"actions"`
	Changed bool     `json:"changed"`
	Failed  bool     `json:"failed"`
	RC      int      `json:"rc"`
	Stdout  string   `json:"stdout"`
	Stderr  string   `json:"stderr"`
	Cmd     string   `json:"cmd"`
	Msg     string   `json:"msg"`
	Diff    string   `json:"diff"`
}

type summary struct {
	Check bool          `json:"check"`
	Hosts []hostSummary `json:"hosts"`
}

type hostSummary struct {
	Host    string `json:"host"`
	OK      int    `json:"ok"`
	Changed int    `json:"changed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	Ignored int    `json:"ignored"`
	Actions int    `json:"actions"`
	Error   string `json:"error"`
}

// events parses --json output: every stdout line must be one JSON event.
func events(t *testing.T, r invocation) []event {
	t.Helper()
	var out []event
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line %d is not a JSON event: %v: %q\n%s", n, err, sc.Text(), r)
		}
		if e.Kind == "" || e.Time == "" {
			t.Fatalf("stdout line %d lacks event or time: %q", n, sc.Text())
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		t.Fatalf("no JSON events\n%s", r)
	}
	return out
}

// runDone returns the summary of the one run_done event, which comes last.
func runDone(t *testing.T, evs []event) hostSummary {
	t.Helper()
	last := evs[len(evs)-1]
	if last.Kind != "run_done" || last.Summary == nil {
		t.Fatalf("last event is %q, want run_done with a summary", last.Kind)
	}
	if n := len(last.Summary.Hosts); n != 1 {
		t.Fatalf("run_done summarises %d hosts, want 1 (this machine)", n)
	}
	return last.Summary.Hosts[0]
}

func ofKind(evs []event, kind string) []event {
	var out []event
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// handlerRuns lists handler events in order as "name: status".
func handlerRuns(evs []event) []string {
	var out []string
	for _, e := range ofKind(evs, "handler") {
		out = append(out, e.Resource+": "+e.Status)
	}
	return out
}

// messages lists the lines Echo and Debug printed, in order.
func messages(evs []event) []string {
	var out []string
	for _, e := range ofKind(evs, "output") {
		if e.Stream == "message" {
			out = append(out, e.Line)
		}
	}
	return out
}

// resultFor returns the one result event whose resource name ends in suffix.
func resultFor(t *testing.T, evs []event, suffix string) event {
	t.Helper()
	var found []event
	for _, e := range ofKind(evs, "result") {
		if strings.HasSuffix(e.Resource, suffix) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d results for a resource ending in %q, want 1", len(found), suffix)
	}
	return found[0]
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// --- file trees ------------------------------------------------------------

// snapshot describes every entry below root (type, mode, content), so two
// snapshots are equal exactly when nothing was created, removed or changed.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %04o", info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %04o %q", info.Mode().Perm(), data)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	var diffs []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("removed %s (%s)", k, v))
		} else if w != v {
			diffs = append(diffs, fmt.Sprintf("changed %s: %s -> %s", k, v, w))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("created %s (%s)", k, v))
		}
	}
	slices.Sort(diffs)
	t.Fatalf("%s changed the tree:\n  %s", what, strings.Join(diffs, "\n  "))
}

// wantFile checks a file's mode and content.
func wantFile(t *testing.T, path string, mode os.FileMode, content string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("want file %s: %v", path, err)
	}
	if !info.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file", path, info.Mode())
	}
	if got := info.Mode().Perm(); got != mode {
		t.Errorf("%s: mode %04o, want %04o", path, got, mode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != content {
		t.Errorf("%s: content %q, want %q", path, data, content)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// --- the site policy -------------------------------------------------------

// siteFiles is what testdata/local/site.star makes below root.
var siteFiles = []struct {
	path    string
	mode    os.FileMode
	content string
}{
	{"etc/motd", 0o644, "Welcome to hello.\nPort 8080.\n"},
	{"etc/app.conf", 0o600, "port=8080\nname=hello\n"},
	{"etc/static.txt", 0o640, "static content\n"},
	{"etc/greeting", 0o644, "registered-value rc=0\n"},
	{"etc/stage", 0o644, "set-value\n"},
	{"when-true", 0o644, ""},
	{"when-func", 0o644, ""},
}

// siteChanges is how many resources a first apply of site.star changes:
// the directory and every entry of siteFiles.
var siteChanges = 1 + len(siteFiles)

func applySite(t *testing.T, root string, extra ...string) invocation {
	t.Helper()
	args := append([]string{"apply", "--json", "-e", "root=" + root}, extra...)
	r := opsmop(t, "", append(args, testdata(t, "site.star"))...)
	wantExit(t, r, 0)
	return r
}

func TestLocalSiteCheckApplyApply(t *testing.T) {
	root := t.TempDir()
	site := testdata(t, "site.star")
	empty := snapshot(t, root)

	// check: the plan, and nothing on disk.
	r := opsmop(t, "", "check", "--json", "-e", "root="+root, site)
	wantExit(t, r, 0)
	evs := events(t, r)
	sameTree(t, "check", empty, snapshot(t, root))
	if last := evs[len(evs)-1]; !last.Summary.Check {
		t.Errorf("check: run_done summary has check=false")
	}
	if got := runDone(t, evs); got.Changed == 0 || got.Failed != 0 {
		t.Errorf("check: summary %+v, want changes planned and no failure", got)
	}
	if got, want := handlerRuns(evs), []string{"announce: would run", "restart app: would run"}; !slices.Equal(got, want) {
		t.Errorf("check: handlers %q, want %q", got, want)
	}
	if n := count(messages(evs), "announce hello"); n != 0 {
		t.Errorf("check: a handler's Echo ran %d times; check mode only reports handlers", n)
	}

	// apply: files, modes, contents, handlers, registered values.
	evs = events(t, applySite(t, root))
	info, err := os.Stat(filepath.Join(root, "etc"))
	if err != nil || !info.IsDir() || info.Mode().Perm() != 0o750 {
		t.Errorf("etc: %v %v, want a directory with mode 0750", info.Mode(), err)
	}
	for _, f := range siteFiles {
		wantFile(t, filepath.Join(root, f.path), f.mode, f.content)
	}
	if exists(filepath.Join(root, "when-false")) {
		t.Errorf("when-false exists: a resource whose when= is false ran")
	}
	if got := resultFor(t, evs, "/when-false").Status; got != "skipped" {
		t.Errorf("when-false: status %q, want skipped", got)
	}
	sum := runDone(t, evs)
	if sum.Changed != siteChanges || sum.Failed != 0 {
		t.Errorf("first apply: summary %+v, want %d changed, 0 failed", sum, siteChanges)
	}
	if got, want := handlerRuns(evs), []string{"announce: running", "restart app: running"}; !slices.Equal(got, want) {
		t.Errorf("apply: handlers %q, want %q (each once, in definition order; unused never)", got, want)
	}
	msgs := messages(evs)
	for _, c := range []struct {
		msg  string
		want int
	}{
		{"pre of hello", 1},
		{"post of hello", 1},
		{`app_name = "hello"`, 1}, // Debug
		{"announce hello", 1},     // signalled by three resources, runs once
		{"restart hello", 1},
		{"unused handler ran", 0},
		{"skipped role ran", 0},
	} {
		if got := count(msgs, c.msg); got != c.want {
			t.Errorf("message %q printed %d times, want %d; messages: %q", c.msg, got, c.want, msgs)
		}
	}
	if i, j := slices.Index(msgs, "post of hello"), slices.Index(msgs, "announce hello"); i < 0 || j < i || msgs[0] != "pre of hello" {
		t.Errorf("messages %q: want pre first, then post, then the handlers", msgs)
	}
	if sk := ofKind(evs, "role_skipped"); len(sk) != 1 || sk[0].Role != "skipped" {
		t.Errorf("role_skipped events %+v, want one for role %q", sk, "skipped")
	}
	converged := snapshot(t, root)

	// apply again: nothing changes, no handler runs.
	evs = events(t, applySite(t, root))
	if sum := runDone(t, evs); sum.Changed != 0 || sum.Actions != 0 || sum.Failed != 0 {
		t.Errorf("second apply: summary %+v, want 0 changed, 0 actions", sum)
	}
	if h := handlerRuns(evs); len(h) != 0 {
		t.Errorf("second apply ran handlers %q; nothing signalled them", h)
	}
	sameTree(t, "second apply", converged, snapshot(t, root))

	// and the text form says so too.
	r = opsmop(t, "", "apply", "-e", "root="+root, site)
	wantExit(t, r, 0)
	if !strings.Contains(r.stdout, "\nchanged 0 resources (0 actions) on 1 host in ") {
		t.Errorf("third apply (text): no summary line with 0 changes\n%s", r)
	}
}

// TestLocalResultsInOrder: one line per resource, in the order the
// resources run, in text and JSON alike.
func TestLocalResultsInOrder(t *testing.T) {
	for _, mode := range []string{"check", "apply"} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			r := opsmop(t, "", mode, "--json", "-e", "root="+root, testdata(t, "site.star"))
			wantExit(t, r, 0)
			var idx []int
			for _, e := range ofKind(events(t, r), "result") {
				idx = append(idx, e.Index)
			}
			if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
				t.Errorf("result indexes %v: want each resource once, in increasing order", idx)
			}
		})
	}
}

func TestLocalHandlersOnlyWhenSignalled(t *testing.T) {
	write := func(rel, content string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		drift func(t *testing.T, root string)
		want  []string
	}{
		{"nothing drifted", func(*testing.T, string) {}, nil},
		{"motd content", write("etc/motd", "tampered\n"), []string{"announce"}},
		{"app.conf content", write("etc/app.conf", "port=1\n"), []string{"announce", "restart app"}},
		{"static.txt mode", func(t *testing.T, root string) {
			if err := os.Chmod(filepath.Join(root, "etc/static.txt"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"announce"}},
		{"motd removed", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "etc/motd")); err != nil {
				t.Fatal(err)
			}
		}, []string{"announce"}},
		{"unsignalling file", write("etc/stage", "tampered\n"), nil},
		{"all three signallers", func(t *testing.T, root string) {
			write("etc/motd", "x\n")(t, root)
			write("etc/app.conf", "x\n")(t, root)
			write("etc/static.txt", "x\n")(t, root)
		}, []string{"announce", "restart app"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			applySite(t, root)
			c.drift(t, root)
			evs := events(t, applySite(t, root))
			var got []string
			for _, h := range ofKind(evs, "handler") {
				got = append(got, h.Resource)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("handlers run: %q, want %q", got, c.want)
			}
			msgs := messages(evs)
			if n, want := count(msgs, "announce hello"), count(c.want, "announce"); n != want {
				t.Errorf("announce handler printed %d times, want %d", n, want)
			}
			if n, want := count(msgs, "restart hello"), count(c.want, "restart app"); n != want {
				t.Errorf("restart handler printed %d times, want %d", n, want)
			}
			for _, f := range siteFiles {
				wantFile(t, filepath.Join(root, f.path), f.mode, f.content)
			}
		})
	}
}

func TestLocalCheckChangesNothing(t *testing.T) {
	for _, c := range []struct {
		name     string
		converge bool
		drift    func(t *testing.T, root string)
	}{
		{name: "empty root"},
		{name: "converged", converge: true},
		{name: "drifted", converge: true, drift: func(t *testing.T, root string) {
			for _, err := range []error{
				os.WriteFile(filepath.Join(root, "etc/app.conf"), []byte("port=1\n"), 0o644),
				os.Chmod(filepath.Join(root, "etc/app.conf"), 0o666),
				os.Chmod(filepath.Join(root, "etc"), 0o700),
				os.Remove(filepath.Join(root, "etc/motd")),
				os.Remove(filepath.Join(root, "when-func")),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		for _, flags := range [][]string{nil, {"--diff"}, {"--json", "--diff"}} {
			t.Run(c.name+" "+strings.Join(flags, " "), func(t *testing.T) {
				root := t.TempDir()
				if c.converge {
					applySite(t, root)
				}
				if c.drift != nil {
					c.drift(t, root)
				}
				before := snapshot(t, root)
				args := append([]string{"check", "-e", "root=" + root}, flags...)
				r := opsmop(t, "", append(args, testdata(t, "site.star"))...)
				wantExit(t, r, 0)
				sameTree(t, "check", before, snapshot(t, root))
				if !c.converge && !slices.Contains(flags, "--json") && !strings.Contains(r.stdout, "would change") {
					t.Errorf("check on an empty root reports nothing that would change\n%s", r)
				}
			})
		}
	}
}

func TestLocalDiff(t *testing.T) {
	for _, c := range []struct {
		name     string
		cmd      string
		flags    []string
		wantDiff bool
	}{
		{"check --diff", "check", []string{"--diff"}, true},
		{"apply --diff", "apply", []string{"--diff"}, true},
		{"check without --diff", "check", nil, false},
		{"apply without --diff", "apply", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			applySite(t, root)
			conf := filepath.Join(root, "etc/app.conf")
			if err := os.WriteFile(conf, []byte("port=1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{c.cmd, "-e", "root=" + root}, c.flags...)
			r := opsmop(t, "", append(args, testdata(t, "site.star"))...)
			wantExit(t, r, 0)
			diff := strings.Join([]string{
				"        --- " + conf + " (before)",
				"        +++ " + conf + " (after)",
				"        @@ -1 +1,2 @@",
				"        -port=1",
				"        +port=8080",
				"        +name=hello",
			}, "\n") + "\n"
			if got := strings.Contains(r.stdout, diff); got != c.wantDiff {
				t.Errorf("unified diff of app.conf shown: %v, want %v; want text:\n%s\n%s", got, c.wantDiff, diff, r)
			}
			if !c.wantDiff && strings.Contains(r.stdout, "+++ ") {
				t.Errorf("a diff was shown without --diff\n%s", r)
			}
			want := "port=1\n" // check changes nothing
			if c.cmd == "apply" {
				want = "port=8080\nname=hello\n"
			}
			wantFile(t, conf, 0o600, want)
		})
	}
}

func TestLocalTags(t *testing.T) {
	all := []string{"always", "db", "in-role", "untagged", "web"}
	for _, c := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"no tags", nil, all},
		{"tags web", []string{"--tags", "web"}, []string{"always", "web"}},
		{"tags web and db", []string{"--tags", "web,db"}, []string{"always", "db", "web"}},
		{"tags repeated", []string{"--tags", "web", "--tags", "data"}, []string{"always", "db", "web"}},
		{"role tag", []string{"--tags", "role"}, []string{"always", "in-role"}},
		{"tag nobody has", []string{"--tags", "nope"}, []string{"always"}},
		{"skip-tags web and data", []string{"--skip-tags", "web,data"}, []string{"always", "in-role", "untagged"}},
		{"skip role tag", []string{"--skip-tags", "role"}, []string{"always", "db", "untagged", "web"}},
		{"skip always", []string{"--skip-tags", "always"}, []string{"db", "in-role", "untagged", "web"}},
		{"skip wins over tags", []string{"--tags", "db", "--skip-tags", "data"}, []string{"always"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			args := append([]string{"apply", "--json", "-e", "root=" + root}, c.flags...)
			r := opsmop(t, "", append(args, testdata(t, "tags.star"))...)
			wantExit(t, r, 0)
			var got []string
			for rel := range snapshot(t, root) {
				if rel != "." {
					got = append(got, rel)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("files made: %q, want %q", got, c.want)
			}
			if sum := runDone(t, events(t, r)); sum.Changed != len(c.want) {
				t.Errorf("summary: %d changed, want %d", sum.Changed, len(c.want))
			}
		})
	}
}

func TestLocalExtraVars(t *testing.T) {
	jsonVars, tomlVars := "@"+testdata(t, "vars.json"), "@"+testdata(t, "vars.toml")
	for _, c := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"none", nil, "colour=policy size=role from_set=set twice=2"},
		{"k=v beats policy", []string{"colour=cli"}, "colour=cli size=role from_set=set twice=2"},
		{"k=v beats role", []string{"size=cli"}, "colour=policy size=cli from_set=set twice=2"},
		{"k=v beats Set", []string{"from_set=cli"}, "colour=policy size=role from_set=cli twice=2"},
		{"several in one", []string{"colour=a size='b c'"}, "colour=a size=b c from_set=set twice=2"},
		{"comma in a value", []string{"colour=red,green"}, "colour=red,green size=role from_set=set twice=2"},
		{"json with typed numbers", []string{jsonVars}, "colour=json size=role from_set=set twice=42"},
		{"toml with typed numbers", []string{tomlVars}, "colour=toml size=toml from_set=set twice=10"},
		{"k=v after json wins", []string{jsonVars, "colour=cli"}, "colour=cli size=role from_set=set twice=42"},
		{"toml after k=v wins", []string{"colour=cli", tomlVars}, "colour=toml size=toml from_set=set twice=10"},
		{"json after toml wins", []string{tomlVars, jsonVars}, "colour=json size=toml from_set=set twice=42"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			// One spelling throughout: urfave/cli refuses -e mixed with --extra-vars.
			args := []string{"apply", "--extra-vars", "root=" + root}
			for _, e := range c.extra {
				args = append(args, "--extra-vars", e)
			}
			r := opsmop(t, "", append(args, testdata(t, "vars.star"))...)
			wantExit(t, r, 0)
			wantFile(t, filepath.Join(root, "vars.txt"), 0o644, c.want+"\n")
		})
	}
}

// TestLocalUsageErrors: a bad command line exits 1 with a one-line message
// and runs nothing.
func TestLocalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vars.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	site := testdata(t, "site.star")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no policy", []string{"apply"}, "opsmop: apply: want exactly one policy file, got 0 arguments\n"},
		{"two policies", []string{"check", site, site}, "opsmop: check: want exactly one policy file, got 2 arguments\n"},
		{"unknown flag", []string{"apply", "--bogus", site}, "opsmop: flag provided but not defined: -bogus\n"},
		{"policy missing", []string{"apply", "nope.star"}, "opsmop: nope.star: cannot read policy: no such file or directory\n"},
		{"extra var without =", []string{"apply", "-e", "novalue", site}, `opsmop: --extra-vars novalue: bad variable "novalue": want k=v` + "\n"},
		{"vars file missing", []string{"apply", "-e", "@nope.json", site}, "opsmop: --extra-vars @nope.json: read vars file: open nope.json: no such file or directory\n"},
		{"vars file of unknown kind", []string{"apply", "-e", "@vars.yaml", site}, "opsmop: --extra-vars @vars.yaml: vars file vars.yaml: want a .json or .toml file\n"},
		{"vars file not json", []string{"apply", "-e", "@bad.json", site}, "opsmop: --extra-vars @bad.json: parse bad.json: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := opsmop(t, dir, c.args...)
			wantExit(t, r, 1)
			if !strings.HasPrefix(r.stderr, c.want) {
				t.Errorf("stderr %q, want it to start with %q", r.stderr, c.want)
			}
		})
	}
}

func TestLocalValidate(t *testing.T) {
	root := t.TempDir()
	example, err := filepath.Abs("../examples/local/policy.star")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no variables needed", []string{testdata(t, "good.star")}, testdata(t, "good.star") + ": ok (2 roles)\n"},
		{"site with extra vars", []string{"-e", "root=" + root, testdata(t, "site.star")}, testdata(t, "site.star") + ": ok (2 roles)\n"},
		{"README example with extra vars", []string{"--extra-vars", "root=" + root, example}, example + ": ok (1 roles)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := opsmop(t, "", append([]string{"validate"}, c.args...)...)
			wantExit(t, r, 0)
			if r.stdout != c.want {
				t.Errorf("stdout %q, want %q", r.stdout, c.want)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("validate touched the machine: %d entries in root", len(entries))
			}
		})
	}
}

// TestLocalBrokenPolicies: every broken policy is an error naming the file,
// line and column and what is wrong; it exits 1 and changes nothing, in
// check, apply and (where the error does not depend on the host) validate.
func TestLocalBrokenPolicies(t *testing.T) {
	dir := testdata(t, "broken")
	const (
		noValidate   = iota // the error needs the host's variables: validate cannot see it
		validate            // validate POLICY finds it
		validateVars        // validate -e root=... POLICY finds it (the policy reads root)
	)
	for _, c := range []struct {
		file     string
		want     []string // each must appear in the output
		validate int
	}{
		{"syntax.star", []string{"syntax.star:2:43: got identifier, want ']'"}, validate},
		{"runtime_error_top.star", []string{"runtime_error_top.star:1:13: unknown binary op: int + string"}, validate},
		{"runtime_error.star", []string{`runtime_error.star:4:23: key "no_such_variable" not in dict`}, validateVars},
		{"no_policy.star", []string{"no_policy.star: no Policy: bind one global to it"}, validate},
		{"unknown_param.star", []string{`unknown_param.star:3:9: File: unknown parameter "mod"`}, validate},
		{"unknown_param_in_function.star", []string{`unknown_param_in_function.star:6:9: File: unknown parameter "mod"`}, validateVars},
		{"wrong_type.star", []string{`wrong_type.star:3:9: Shell: parameter "timeout" must be an int, not string`}, validate},
		{"unknown_handler.star", []string{"unknown_handler.star:2:13: ", `"restart"`, `role "x" has no such handler`}, validateVars},
		{"undefined_variable.star", []string{`undefined_variable.star:2:13: `, `template templates/motd.j2: line 2: undefined variable "colour"`}, noValidate},
		{"missing_from_file.star", []string{`missing_from_file.star:2:13: `, `from_file: read "files/motd.txt": no such file (looked for ` + filepath.Join(dir, "files/motd.txt") + ")"}, validateVars},
		{"escaping_path.star", []string{`escaping_path.star:2:13: `, `from_file: refusing to read "../outside.txt": it is outside the policy folder ` + dir}, validateVars},
	} {
		cmds := []string{"check", "apply"}
		if c.validate != noValidate {
			cmds = append(cmds, "validate")
		}
		for _, cmd := range cmds {
			t.Run(strings.TrimSuffix(c.file, ".star")+"/"+cmd, func(t *testing.T) {
				root := t.TempDir()
				before := snapshot(t, root)
				args := []string{cmd, "-e", "root=" + root, c.file}
				if cmd == "validate" && c.validate == validate {
					args = []string{cmd, c.file}
				}
				r := opsmop(t, dir, args...)
				for _, w := range c.want {
					if !strings.Contains(r.stdout+r.stderr, w) {
						t.Errorf("output lacks %q\n%s", w, r)
					}
				}
				wantExit(t, r, 1)
				sameTree(t, cmd, before, snapshot(t, root))
			})
		}
	}
}

func TestLocalFailingShell(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		root := t.TempDir()
		r := opsmop(t, "", "apply", "-e", "root="+root, "-e", "mode=fail", testdata(t, "shell.star"))
		wantExit(t, r, 2)
		for _, want := range []string{
			"  [1] shell echo to-stdout; echo to-stderr >&2; exit 3: failed\n",
			"      command exited with status 3\n",
			"      cmd: echo to-stdout; echo to-stderr >&2; exit 3 (rc 3)\n",
			"      stdout:\n        to-stdout\n",
			"      stderr:\n        to-stderr\n",
			"failed hosts: ",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q\n%s", want, r)
			}
		}
		if exists(filepath.Join(root, "after-failure")) {
			t.Errorf("a resource after the failed one ran")
		}
	})
	t.Run("json", func(t *testing.T) {
		root := t.TempDir()
		r := opsmop(t, "", "apply", "--json", "-e", "root="+root, "-e", "mode=fail", testdata(t, "shell.star"))
		wantExit(t, r, 2)
		evs := events(t, r)
		res := resultFor(t, evs, "exit 3").Result
		if res == nil || res.Status != "failed" || !res.Failed || res.RC != 3 || res.Stdout != "to-stdout\n" || res.Stderr != "to-stderr\n" {
			t.Errorf("result %+v, want failed, rc 3, stdout and stderr", res)
		}
		var streamed []string
		for _, e := range ofKind(evs, "output") {
			streamed = append(streamed, e.Stream+": "+e.Line)
		}
		slices.Sort(streamed)
		if want := []string{"stderr: to-stderr", "stdout: to-stdout"}; !slices.Equal(streamed, want) {
			t.Errorf("streamed output %q, want %q", streamed, want)
		}
		if sum := runDone(t, evs); sum.Failed != 1 {
			t.Errorf("summary %+v, want 1 failed", sum)
		}
	})
	for _, c := range []struct {
		mode, file, content string
		code                int
		want                string
	}{
		{"ignore", "after-ignored", "rc=4 failed=True\n", 0, "      command exited with status 4\n"},
		{"failed_when", "after-failed-when", "rc=1\n", 0, "  [1] shell exit 1: ok\n"},
		{"assert", "", "", 2, "  [1] asserts: failed\n      assertion failed: 1 == 2\n"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			root := t.TempDir()
			r := opsmop(t, "", "apply", "-e", "root="+root, "-e", "mode="+c.mode, testdata(t, "shell.star"))
			wantExit(t, r, c.code)
			if !strings.Contains(r.stdout, c.want) {
				t.Errorf("stdout lacks %q\n%s", c.want, r)
			}
			if c.file != "" {
				wantFile(t, filepath.Join(root, c.file), 0o644, c.content)
			}
		})
	}
}

func TestLocalStop(t *testing.T) {
	root := t.TempDir()
	r := opsmop(t, "", "apply", "-e", "root="+root, testdata(t, "stop.star"))
	wantExit(t, r, 2)
	if want := "  [2] stop: failed\n      stopped: stopping on purpose\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q\n%s", want, r)
	}
	wantFile(t, filepath.Join(root, "before-stop"), 0o644, "ran\n")
	for _, f := range []string{"after-stop", "second-role"} {
		if exists(filepath.Join(root, f)) {
			t.Errorf("%s exists: a resource after Stop ran", f)
		}
	}
}

func TestLocalFacts(t *testing.T) {
	r := opsmop(t, "", "facts")
	wantExit(t, r, 0)
	var facts map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &facts); err != nil {
		t.Fatalf("facts output is not a JSON object: %v\n%s", err, r)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if facts["os"] != runtime.GOOS {
		t.Errorf("os = %v, want %q", facts["os"], runtime.GOOS)
	}
	if facts["hostname"] != host {
		t.Errorf("hostname = %v, want %q", facts["hostname"], host)
	}
	if n, ok := facts["cpu_count"].(float64); !ok || n < 1 || n != float64(int(n)) {
		t.Errorf("cpu_count = %v, want a whole number >= 1", facts["cpu_count"])
	}
}

// TestLocalInterrupt: SIGINT while a Shell runs ends the run with exit 130
// and leaves neither the worker nor the command behind. The test runs its
// own copy of the binary so that pgrep finds only this run's processes.
func TestLocalInterrupt(t *testing.T) {
	for _, c := range []struct {
		name  string
		group bool // signal the whole process group, as a terminal's ^C does
	}{
		{"signal to the controller", false},
		{"signal to the process group", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "opsmop-interrupt")
			copyFile(t, opsmopBinary(t), bin, 0o755)
			root := t.TempDir()
			cmd := exec.Command(bin, "apply", "--json", "-e", "root="+root, testdata(t, "interrupt.star"))
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { killLeftovers(t, bin, root) })
			exited := make(chan error, 1)
			lines := make(chan string, 64)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
				exited <- cmd.Wait()
			}()

			// Wait until the shell says it runs: its output is streamed.
			deadline := time.After(time.Minute)
			var seen []string
		waitRunning:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("run ended before the shell ran:\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
					}
					seen = append(seen, l)
					if strings.Contains(l, `"line":"sleeping"`) {
						break waitRunning
					}
				case <-deadline:
					t.Fatalf("the shell did not start within a minute:\n%s", strings.Join(seen, "\n"))
				}
			}
			sleepPID := readPID(t, filepath.Join(root, "sleep.pid"))
			if !alive(sleepPID) {
				t.Fatalf("sleep (pid %d) is not running before the interrupt", sleepPID)
			}
			target := cmd.Process.Pid
			if c.group {
				target = -target
			}
			if err := syscall.Kill(target, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			go func() {
				for range lines {
				}
			}()
			var werr error
			select {
			case werr = <-exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("opsmop still runs 30s after SIGINT; worker processes: %v", pgrep(t, bin))
			}
			code := 0
			var exit *exec.ExitError
			if errors.As(werr, &exit) {
				code = exit.ExitCode()
			}
			assertNoPanic(t, stderr.String(), stringer(stderr.String()))
			if code != 130 || !strings.Contains(stderr.String(), "opsmop: interrupted") {
				t.Errorf("exit %d, stderr %q; want 130 and %q", code, stderr.String(), "opsmop: interrupted")
			}
			// The worker and the command go away with the run; allow them a
			// moment to be reaped.
			gone := time.Now().Add(10 * time.Second)
			for time.Now().Before(gone) && (len(pgrep(t, bin)) > 0 || alive(sleepPID)) {
				time.Sleep(100 * time.Millisecond)
			}
			if left := pgrep(t, bin); len(left) > 0 {
				t.Errorf("worker processes left behind: %v", left)
			}
			if alive(sleepPID) {
				t.Errorf("the interrupted command (sleep, pid %d) is still running", sleepPID)
			}
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// pgrep lists "pid cmdline" of processes whose command line holds bin.
func pgrep(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("pgrep", "-a", "-f", bin).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return nil // no match
	}
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	var procs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if pid, _, _ := strings.Cut(l, " "); alive(atoi(pid)) {
			procs = append(procs, l)
		}
	}
	return procs
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// alive reports whether pid runs (a zombie has ended).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}

// killLeftovers ends, by pid, the processes this test started that are
// still alive: its copy of the binary (controller and worker) and the sleep.
func killLeftovers(t *testing.T, bin, root string) {
	for _, l := range pgrep(t, bin) {
		pid, _, _ := strings.Cut(l, " ")
		syscall.Kill(atoi(pid), syscall.SIGKILL)
	}
	if data, err := os.ReadFile(filepath.Join(root, "sleep.pid")); err == nil {
		if pid := atoi(strings.TrimSpace(string(data))); alive(pid) {
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmdline, []byte("317")) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
