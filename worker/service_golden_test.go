package worker

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// -update rewrites testdata/golden/*.txt from what the code does now.
// Registered in init so a flag of the same name from another test file in
// this package (defined in a var declaration) does not collide.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// shimCommands are linked to testdata/shims/shim.sh; PATH holds only them,
// so a command the code runs that has no shim fails the test instead of
// touching the machine.
var shimCommands = []string{
	"systemctl", "service", "update-rc.d", "rc-service", "rc-update",
	"dpkg-query", "apt-cache", "apt-get", "rpm", "dnf", "yum", "apk",
}

var shimVars = []string{"SHIM_ACTIVE", "SHIM_ENABLED", "SHIM_SERVICE", "SHIM_INSTALLED", "SHIM_CANDIDATE", "SHIM_FAIL"}

// installShims makes a directory of shims the whole of PATH and returns the
// log file they append to.
func installShims(t *testing.T) string {
	t.Helper()
	shim, err := filepath.Abs("testdata/shims/shim.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range shimCommands {
		if err := os.Symlink(shim, filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "log")
	t.Setenv("PATH", dir)
	t.Setenv("SHIM_LOG", log)
	t.Setenv("DEBIAN_FRONTEND", "")
	return log
}

// goldenCase is one resource against one state of the fake system.
type goldenCase struct {
	name   string
	params map[string]any
	state  map[string]string // SHIM_* variables
}

// runGolden plans and applies each case against the shims and compares the
// transcript (plan, then every command run while planning and applying)
// with testdata/golden/<file>.
// before, when not nil, prepares the fake system for each case.
func runGolden(t *testing.T, file, typ, resName string, cases []goldenCase, before func(goldenCase)) {
	log := installShims(t)
	var out bytes.Buffer
	for _, c := range cases {
		for _, v := range shimVars {
			t.Setenv(v, c.state[v])
		}
		t.Setenv("SHIM_SERVICE", resName)
		if before != nil {
			before(c)
		}
		os.Remove(log)
		fmt.Fprintf(&out, "== %s\n", c.name)
		fmt.Fprintf(&out, "params: %s\nstate: %s\n", sortedKV(c.params), sortedKV(c.state))
		res, err := Build(protocol.Resource{Type: typ, Name: resName, Params: c.params})
		if err != nil {
			t.Fatalf("%s: build: %v", c.name, err)
		}
		env := &Env{}
		plan, err := res.Plan(context.Background(), env)
		if err != nil {
			t.Fatalf("%s: plan: %v", c.name, err)
		}
		fmt.Fprintf(&out, "plan: %q\n", plan)
		out.WriteString(indent(readLog(t, log)))
		os.Remove(log)
		if len(plan) > 0 {
			r, err := res.Apply(context.Background(), env, plan)
			fmt.Fprintf(&out, "-- apply: status=%s changed=%v err=%v\n", r.Status, r.Changed, err)
			out.WriteString(indent(readLog(t, log)))
		}
		out.WriteString("\n")
	}
	compareGolden(t, filepath.Join("testdata", "golden", file), out.Bytes())
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updateGoldens() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -run %s -update to create it): %v", t.Name(), err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the commands run now (go test -run %s -update rewrites it):\n%s",
			path, t.Name(), lineDiff(string(want), string(got)))
	}
}

func readLog(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  $ " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  $ ") + "\n"
}

func sortedKV[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return ""
}

// serviceCases covers every combination of started/enabled/restarted
// against every running/enabled state of the service.
func serviceCases(method string) []goldenCase {
	var cases []goldenCase
	states := []map[string]string{
		{},
		{"SHIM_ACTIVE": "yes"},
		{"SHIM_ENABLED": "yes"},
		{"SHIM_ACTIVE": "yes", "SHIM_ENABLED": "yes"},
	}
	var paramSets []map[string]any
	for _, started := range []any{nil, true, false} {
		for _, enabled := range []any{nil, true, false} {
			for _, restarted := range []bool{false, true} {
				if restarted && started == false {
					continue // rejected by Build, see TestServiceParamErrors
				}
				p := map[string]any{"method": method}
				if started != nil {
					p["started"] = started
				}
				if enabled != nil {
					p["enabled"] = enabled
				}
				if restarted {
					p["restarted"] = true
				}
				paramSets = append(paramSets, p)
			}
		}
	}
	for _, p := range paramSets {
		for _, s := range states {
			cases = append(cases, goldenCase{name: sortedKV(p) + " / " + stateName(s), params: p, state: s})
		}
	}
	// A failing command stops the resource and fails it.
	cases = append(cases, goldenCase{
		name:   "failing start",
		params: map[string]any{"method": method, "started": true, "enabled": true},
		state:  map[string]string{"SHIM_FAIL": failCommand(method)},
	})
	return cases
}

func failCommand(method string) string {
	switch method {
	case "systemd":
		return "systemctl start"
	case "openrc":
		return "rc-service nginx"
	}
	return "service nginx"
}

func stateName(s map[string]string) string {
	run, boot := "stopped", "disabled"
	if s["SHIM_ACTIVE"] == "yes" {
		run = "running"
	}
	if s["SHIM_ENABLED"] == "yes" {
		boot = "enabled"
	}
	return run + ", " + boot
}

func TestServiceGoldenSystemd(t *testing.T) {
	runGolden(t, "service_systemd.txt", "service", "nginx", serviceCases("systemd"), nil)
}

func TestServiceGoldenOpenRC(t *testing.T) {
	runGolden(t, "service_openrc.txt", "service", "nginx", serviceCases("openrc"), nil)
}

// TestServiceGoldenSysv runs the sysvinit provider against a fake /etc, as
// it reads rc links directly: once for a script that was never installed (no
// links) and once for a disabled one (K links), which need different
// update-rc.d commands to enable.
func TestServiceGoldenSysv(t *testing.T) {
	etc := t.TempDir()
	for _, d := range []string{"rc2.d", "rc3.d"} {
		if err := os.MkdirAll(filepath.Join(etc, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	orig := serviceProviders["sysv"]
	serviceProviders["sysv"] = sysvProvider{etc: etc}
	t.Cleanup(func() { serviceProviders["sysv"] = orig })
	slink := filepath.Join(etc, "rc2.d", "S01nginx")
	klink := filepath.Join(etc, "rc3.d", "K01nginx")
	setLinks := func(start, kill bool) {
		os.Remove(slink)
		os.Remove(klink)
		if start {
			os.Symlink("../init.d/nginx", slink)
		}
		if kill {
			os.Symlink("../init.d/nginx", klink)
		}
	}
	t.Run("no-links", func(t *testing.T) {
		runGolden(t, "service_sysv.txt", "service", "nginx", serviceCases("sysv"), func(c goldenCase) {
			setLinks(c.state["SHIM_ENABLED"] == "yes", false)
		})
	})
	t.Run("k-links", func(t *testing.T) {
		runGolden(t, "service_sysv_klinks.txt", "service", "nginx", serviceCases("sysv"), func(c goldenCase) {
			setLinks(c.state["SHIM_ENABLED"] == "yes", true)
		})
	})
}
