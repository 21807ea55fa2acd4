package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sysSh runs a shell line and returns its trimmed output: the machine's own
// answer to compare facts with.
func sysSh(t *testing.T, line string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return strings.TrimSpace(string(out))
}

func TestGatherFactsMatchMachine(t *testing.T) {
	if _, err := os.Stat("/etc/os-release"); err != nil {
		t.Skip("no /etc/os-release on this machine")
	}
	facts, err := GatherFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"os":                    strings.ToLower(sysSh(t, "uname -s")),
		"kernel":                sysSh(t, "uname -r"),
		"architecture":          sysSh(t, "uname -m"),
		"hostname":              sysSh(t, "hostname"),
		"distribution":          sysSh(t, `. /etc/os-release; echo "$ID"`),
		"distribution_version":  sysSh(t, `. /etc/os-release; echo "$VERSION_ID"`),
		"distribution_codename": sysSh(t, `. /etc/os-release; echo "$VERSION_CODENAME"`),
		"distribution_name":     sysSh(t, `. /etc/os-release; echo "$PRETTY_NAME"`),
		"service_manager":       sysSh(t, `if [ -d /run/systemd/system ]; then echo systemd; elif command -v rc-service >/dev/null; then echo openrc; else echo sysv; fi`),
	}
	for k, v := range want {
		if got := facts[k]; got != v {
			t.Errorf("fact %s = %q, the machine says %q", k, got, v)
		}
	}
	nproc, _ := strconv.ParseInt(sysSh(t, "nproc"), 10, 64)
	if facts["cpu_count"] != nproc {
		t.Errorf("cpu_count = %v, nproc says %d", facts["cpu_count"], nproc)
	}
	memKB, _ := strconv.ParseInt(sysSh(t, `awk '/^MemTotal:/ {print $2}' /proc/meminfo`), 10, 64)
	if facts["memory_mb"] != memKB/1024 || memKB == 0 {
		t.Errorf("memory_mb = %v, /proc/meminfo says %d kB", facts["memory_mb"], memKB)
	}
	if id := want["distribution"]; id == "debian" || id == "ubuntu" {
		if facts["package_manager"] != "apt" || facts["os_family"] != "debian" {
			t.Errorf("package_manager = %v, os_family = %v on %s, want apt, debian", facts["package_manager"], facts["os_family"], id)
		}
	}
	if _, ok := facts["user"].(map[string]any); !ok {
		t.Errorf("user facts = %#v, want a map", facts["user"])
	}
}

func TestFactCacheInvalidate(t *testing.T) {
	var c FactCache
	a, err := c.Get(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	a["marker"] = true
	if b, _ := c.Get(context.Background(), false); b["marker"] != true {
		t.Fatal("second Get gathered again instead of using the cache")
	}
	c.Invalidate()
	if b, _ := c.Get(context.Background(), false); b["marker"] == true {
		t.Fatal("Get after Invalidate returned the old facts")
	}
}

func sysWriteFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestGatherFactsFixtures(t *testing.T) {
	dir := t.TempDir()
	osr := filepath.Join(dir, "os-release")
	sysWriteFile(t, osr, "# comment\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\nID_LIKE='x'\n", 0o644)
	mem := filepath.Join(dir, "meminfo")
	sysWriteFile(t, mem, "MemTotal:        2048000 kB\nMemFree:  1 kB\n", 0o644)
	facts, err := gatherFacts(context.Background(), factSources{
		osRelease: osr, meminfo: mem, factsDir: filepath.Join(dir, "none"), systemd: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"distribution": "alpine", "distribution_version": "3.19.1", "distribution_name": "Alpine Linux v3.19",
		"distribution_like": "x", "distribution_codename": "", "os_family": "alpine", "memory_mb": int64(2000),
		"package_manager": "apk", "service_manager": "systemd",
	} {
		if facts[k] != want {
			t.Errorf("%s = %#v, want %#v", k, facts[k], want)
		}
	}
}

func TestUserFacts(t *testing.T) {
	dir := t.TempDir()
	sysWriteFile(t, filepath.Join(dir, "10-site.json"), `{"datacenter": "ams1", "rack": 4, "ratio": 0.5, "tags": ["a", "b"]}`, 0o644)
	sysWriteFile(t, filepath.Join(dir, "20-app.toml"), "rack = 7\n[app]\nname = \"shop\"\nports = [80, 443]\n", 0o644)
	sysWriteFile(t, filepath.Join(dir, "30-exec"), "#!/bin/sh\necho '{\"from_exec\": true}'\n", 0o755)
	sysWriteFile(t, filepath.Join(dir, ".hidden"), "garbage", 0o644)
	sysWriteFile(t, filepath.Join(dir, "10-site.json~"), "garbage", 0o644)
	got, err := userFacts(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got["datacenter"] != "ams1" || got["ratio"] != 0.5 || got["from_exec"] != true {
		t.Errorf("user facts = %#v", got)
	}
	if got["rack"] != int64(7) {
		t.Errorf("rack = %#v: the later file (20-app.toml) should win with int64 7", got["rack"])
	}
	app, _ := got["app"].(map[string]any)
	if app["name"] != "shop" {
		t.Errorf("app = %#v", got["app"])
	}
	if ports, _ := app["ports"].([]any); len(ports) != 2 || ports[0] != int64(80) {
		t.Errorf("ports = %#v, want []any{int64(80), int64(443)}", app["ports"])
	}
}

func TestUserFactsErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		mode                os.FileMode
		want                string
	}{
		{"bad json", "a.json", `{"a": `, 0o644, "parse JSON"},
		{"json array", "a.json", `[1]`, 0o644, "want a JSON object, got an array"},
		{"two values", "a.json", `{} {}`, 0o644, "more than one value"},
		{"bad toml", "a.toml", "a = = 1", 0o644, "parse TOML"},
		{"unknown extension", "README", "hello", 0o644, "want a .json or .toml file"},
		{"exec fails", "x", "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755, "exited with status 3: boom"},
		{"exec prints text", "x", "#!/bin/sh\necho hi\n", 0o755, "output: parse JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			sysWriteFile(t, path, tc.content, tc.mode)
			_, err := userFacts(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to name %s and say %q", err, path, tc.want)
			}
			_, err = gatherFacts(context.Background(), factSources{factsDir: dir})
			if err == nil {
				t.Fatal("gatherFacts ignored a broken user facts file")
			}
		})
	}
}

func TestFileFacts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	sysWriteFile(t, file, "hello\n", 0o640)
	os.Chmod(file, 0o640)
	exe := filepath.Join(dir, "x")
	sysWriteFile(t, exe, "", 0o755)
	os.Chmod(exe, 0o755)
	link := filepath.Join(dir, "l")
	os.Symlink(file, link)
	owner := sysSh(t, "stat -c %U "+file)
	group := sysSh(t, "stat -c %G "+file)
	sum := strings.Fields(sysSh(t, "sha256sum "+file))[0]
	tests := []struct {
		name, path string
		want       map[string]any
	}{
		{"file", file, map[string]any{"exists": true, "is_file": true, "is_dir": false, "is_link": false, "executable": false,
			"mode": "0640", "owner": owner, "group": group, "sha256": sum, "size": int64(6)}},
		{"executable", exe, map[string]any{"executable": true, "mode": "0755"}},
		{"symlink", link, map[string]any{"exists": true, "is_file": true, "is_link": true, "sha256": sum}},
		{"dir", dir, map[string]any{"exists": true, "is_dir": true, "is_file": false, "sha256": "", "mode": sysSh(t, "stat -c %04a "+dir)}},
		{"missing", filepath.Join(dir, "nope"), map[string]any{"exists": false, "is_file": false, "mode": "", "sha256": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FileFacts(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}
