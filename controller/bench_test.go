package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/policy"
)

// benchPolicy is e2e/bench's workload: two directories, ten templated files
// with host variables that signal a handler, a 1 MiB file, two commands
// guarded by creates, and one handler.
const benchPolicy = `
inv = TomlInventory("inv.toml")

def conf(i):
    return File(
        T("{{ root }}/etc/conf%d.ini" % i),
        from_template = "templates/conf%d.j2" % i,
        mode = 0o644,
        signals = "reload",
    )

policy = Policy(roles = [
    Role(
        "bench",
        inventory = inv,
        resources = [
            Directory(T("{{ root }}/etc"), mode = 0o755),
            Directory(T("{{ root }}/data"), mode = 0o755),
        ] + [conf(i) for i in range(10)] + [
            File(T("{{ root }}/data/blob.bin"), from_file = "files/blob.bin", mode = 0o644),
            Shell(T("echo one > {{ root }}/data/one.done"), creates = T("{{ root }}/data/one.done")),
            Shell(T("echo two > {{ root }}/data/two.done"), creates = T("{{ root }}/data/two.done")),
        ],
        handlers = {"reload": Shell(T("date +%s.%N >> {{ root }}/reload.log"))},
    ),
])
`

const benchTemplate = `# conf%d.ini for {{ inventory_hostname }}, written by the benchmark
[host]
name = {{ inventory_hostname }}
root = {{ root }}
port = {{ app_port }}
tier = {{ tier }}
section = %d
`

// writeBenchWorkload lays out the workload for hosts local hosts, each with
// its own scratch dir, and returns the policy's path.
func writeBenchWorkload(b *testing.B, hosts int) string {
	b.Helper()
	dir := b.TempDir()
	files := map[string][]byte{"policy.star": []byte(benchPolicy)}
	for i := range 10 {
		files[fmt.Sprintf("templates/conf%d.j2", i)] = fmt.Appendf(nil, benchTemplate, i, i)
	}
	blob := make([]byte, 1<<20)
	for i := range blob {
		blob[i] = byte(i*7 + i>>8)
	}
	files["files/blob.bin"] = blob
	var inv strings.Builder
	inv.WriteString("[groups.bench.hosts]\n")
	for i := range hosts {
		root := filepath.Join(dir, "hosts", fmt.Sprint(i))
		if err := os.MkdirAll(root, 0o755); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&inv, "h%03d = \"opsmop_connection=local root=%s\"\n", i, root)
	}
	inv.WriteString("\n[groups.bench.vars]\napp_port = 8080\ntier = \"bench\"\n")
	files["inv.toml"] = []byte(inv.String())
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, "policy.star")
}

// BenchmarkPrepareHost measures what the controller spends on one host of
// the benchmark workload before anything goes to the worker: expanding the
// role, merging variables, rendering names, paths and the ten templates,
// and attaching file content. One op is one host.
func BenchmarkPrepareHost(b *testing.B) {
	const hosts = 50
	path := writeBenchWorkload(b, hosts)
	p, err := policy.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	r := newRunner(p, Options{PolicyPath: path, Check: true, Push: true, Dial: pipeDialer(nil)})
	defer r.closeAll()
	if err := r.planHosts(); err != nil {
		b.Fatal(err)
	}
	role := p.Roles[0]
	targets := r.roleHosts[0]
	// Real facts from a real (in-process) worker: every render sees them.
	ws, err := r.host(targets[0]).session(context.Background(), role)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := newHostRun(r, targets[i%hosts])
		i++
		x, err := h.prepareRole(ws, role)
		if err != nil || x == nil {
			b.Fatalf("prepare role: %v", err)
		}
		for pos, res := range x.exp.Resources {
			if st := x.prepare(res, pos); st.local != nil {
				b.Fatalf("%s: %s", displayName(res), st.local.Msg)
			}
		}
	}
}

// BenchmarkPushCheck runs a warm check of the workload on 10 hosts, each
// with an in-process worker: controller and worker CPU together, through
// the whole protocol. One op is one run of all hosts.
func BenchmarkPushCheck(b *testing.B) {
	const hosts = 10
	path := writeBenchWorkload(b, hosts)
	opts := Options{PolicyPath: path, Push: true, Dial: pipeDialer(nil)}
	if _, err := Run(context.Background(), opts); err != nil {
		b.Fatalf("apply: %v", err)
	}
	opts.Check = true
	b.ReportAllocs()
	for b.Loop() {
		sum, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatalf("check: %v", err)
		}
		if res, _ := sum.Changed(); res != 0 {
			b.Fatalf("warm check changed %d resources", res)
		}
	}
}
