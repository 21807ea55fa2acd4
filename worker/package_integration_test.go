package worker

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// sysRequireRoot skips, with the reason, where a test cannot change the system.
// CI runs as root and does not allow these skips.
func sysRequireRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it changes the system's packages, accounts or services")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s, which is not on this machine", tool)
		}
	}
}

// sysBuild builds a resource or fails the test.
func sysBuild(t *testing.T, typ, name string, params map[string]any) Resource {
	t.Helper()
	r, err := Build(protocol.Resource{Type: typ, Name: name, Params: params})
	if err != nil {
		t.Fatalf("build %s %s: %v", typ, name, err)
	}
	return r
}

// sysPlanApply plans r, checks the plan, and applies it (unless it is empty).
func sysPlanApply(t *testing.T, env *Env, r Resource, want ...string) {
	t.Helper()
	plan, err := r.Plan(context.Background(), env)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan = %q, want %q", plan, want)
	}
	if len(plan) == 0 {
		return
	}
	res, err := r.Apply(context.Background(), env, plan)
	if err != nil {
		t.Fatalf("apply %q: %v\n%s", plan, err, res.Stderr)
	}
	if !res.Changed || res.Status != protocol.StatusChanged {
		t.Fatalf("apply %q: result %+v, want changed", plan, res)
	}
}

func dpkgInstalled(t *testing.T, pkg string) bool {
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Status}", pkg).Output()
	return strings.HasSuffix(string(out), " installed")
}

// TestPackageAptIntegration installs and removes GNU hello (one small
// package, no dependencies beyond libc) with the method chosen from facts.
func TestPackageAptIntegration(t *testing.T) {
	sysRequireRoot(t, "apt-get", "dpkg-query")
	const pkg = "hello"
	if dpkgInstalled(t, pkg) {
		t.Fatalf("%s is already installed; this test needs to install it itself (apt-get remove %s)", pkg, pkg)
	}
	t.Cleanup(func() {
		if dpkgInstalled(t, pkg) {
			exec.Command("apt-get", "remove", "-y", "-q", pkg).Run()
		}
	})
	env := &Env{Facts: &FactCache{}}
	if _, err := env.Facts.Get(context.Background(), false); err != nil {
		t.Fatal(err)
	}

	// Check mode: Plan alone installs nothing.
	check := &Env{Check: true, Facts: env.Facts}
	r := sysBuild(t, "package", pkg, map[string]any{"update_cache": true})
	plan, err := r.Plan(context.Background(), check)
	if err != nil || !reflect.DeepEqual(plan, []string{"update cache", "install"}) {
		t.Fatalf("check plan = %q, %v", plan, err)
	}
	if dpkgInstalled(t, pkg) {
		t.Fatal("planning installed the package")
	}

	sysPlanApply(t, env, r, "update cache", "install")
	if !dpkgInstalled(t, pkg) {
		t.Fatal("dpkg says hello is not installed after install")
	}
	if out, err := exec.Command("hello").Output(); err != nil || !strings.Contains(string(out), "Hello, world!") {
		t.Fatalf("hello: %q, %v", out, err)
	}
	sysPlanApply(t, env, r) // idempotent: no cache update when nothing is to install
	sysPlanApply(t, env, sysBuild(t, "package", pkg, map[string]any{"latest": true}))
	installed := strings.TrimSpace(sysSh(t, "dpkg-query -W -f '${Version}' hello"))
	sysPlanApply(t, env, sysBuild(t, "package", pkg, map[string]any{"version": installed}))

	rm := sysBuild(t, "package", pkg, map[string]any{"absent": true})
	if plan, _ := rm.Plan(context.Background(), check); !reflect.DeepEqual(plan, []string{"remove"}) || !dpkgInstalled(t, pkg) {
		t.Fatalf("check plan for absent = %q; installed=%v", plan, dpkgInstalled(t, pkg))
	}
	sysPlanApply(t, env, rm, "remove")
	if dpkgInstalled(t, pkg) {
		t.Fatal("hello still installed after remove")
	}
	sysPlanApply(t, env, rm)
}
