package worker

import (
	"context"
	"fmt"
	"strings"
)

// pkgState is what a provider's query found.
type pkgState struct {
	present bool
	version string
}

// pkgProvider knows one package manager's query and action commands. The
// query methods run commands; the action methods only build argv, which
// Package.Apply runs, so the exact command lines are visible in one place.
type pkgProvider interface {
	installed(ctx context.Context, env *Env, name string) (pkgState, error)
	upgradable(ctx context.Context, env *Env, name, installed string) (bool, error)
	updateCache() []string
	install(name, version string) []string
	upgrade(name string) []string
	remove(name string) []string
	env() map[string]string
}

var packageProviders = map[string]pkgProvider{
	"apt": aptProvider{},
	"dnf": rpmProvider{tool: "dnf", upgradeVerb: "upgrade"},
	"yum": rpmProvider{tool: "yum", upgradeVerb: "update"},
	"apk": apkProvider{},
}

// aptProvider queries with dpkg-query and apt-cache, acts with apt-get.
type aptProvider struct{}

func (aptProvider) installed(ctx context.Context, env *Env, name string) (pkgState, error) {
	res, err := query(ctx, env, "dpkg-query", "-W", "-f", "${Status} ${Version}", name)
	if err != nil {
		return pkgState{}, err
	}
	if res.RC != 0 { // "no packages found matching": never installed
		return pkgState{}, nil
	}
	// "install ok installed 2.10-3"; "deinstall ok config-files 2.10-3" is
	// removed with its configuration left behind: not installed.
	f := strings.Fields(res.Stdout)
	if len(f) >= 4 && f[2] == "installed" {
		return pkgState{present: true, version: f[3]}, nil
	}
	return pkgState{}, nil
}

func (aptProvider) upgradable(ctx context.Context, env *Env, name, installed string) (bool, error) {
	res, err := query(ctx, env, "apt-cache", "policy", name)
	if err != nil {
		return false, err
	}
	if res.RC != 0 {
		return false, fmt.Errorf("apt-cache policy %s: exit status %d: %s", name, res.RC, lastLine(res.Stderr))
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok {
			c = strings.TrimSpace(c)
			return c != "" && c != "(none)" && c != installed, nil
		}
	}
	return false, nil
}

func (aptProvider) updateCache() []string { return []string{"apt-get", "update", "-q"} }

// install keeps locally changed configuration files (--force-confold), as
// there is nobody to answer dpkg's question.
func (aptProvider) install(name, version string) []string {
	argv := []string{"apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confold"}
	if version != "" {
		return append(argv, "--allow-downgrades", name+"="+version)
	}
	return append(argv, name)
}

func (p aptProvider) upgrade(name string) []string { return p.install(name, "") }

func (aptProvider) remove(name string) []string {
	return []string{"apt-get", "remove", "-y", "-q", name}
}

func (aptProvider) env() map[string]string {
	return map[string]string{"DEBIAN_FRONTEND": "noninteractive"}
}

// rpmProvider queries with rpm and acts with dnf or yum.
type rpmProvider struct{ tool, upgradeVerb string }

func (rpmProvider) installed(ctx context.Context, env *Env, name string) (pkgState, error) {
	res, err := query(ctx, env, "rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\n", name)
	if err != nil {
		return pkgState{}, err
	}
	if res.RC != 0 { // "package NAME is not installed"
		return pkgState{}, nil
	}
	// Several versions can be installed at once (kernels): the last is newest.
	lines := strings.Fields(res.Stdout)
	if len(lines) == 0 {
		return pkgState{}, nil
	}
	return pkgState{present: true, version: lines[len(lines)-1]}, nil
}

// upgradable asks check-update, which exits 100 when updates are available.
func (p rpmProvider) upgradable(ctx context.Context, env *Env, name, _ string) (bool, error) {
	res, err := query(ctx, env, p.tool, "-q", "check-update", name)
	if err != nil {
		return false, err
	}
	switch res.RC {
	case 0:
		return false, nil
	case 100:
		return true, nil
	}
	return false, fmt.Errorf("%s check-update %s: exit status %d: %s", p.tool, name, res.RC, lastLine(res.Stderr))
}

func (p rpmProvider) updateCache() []string { return []string{p.tool, "makecache", "-q"} }

func (p rpmProvider) install(name, version string) []string {
	if version != "" {
		name += "-" + version
	}
	return []string{p.tool, "install", "-y", "-q", name}
}

func (p rpmProvider) upgrade(name string) []string {
	return []string{p.tool, p.upgradeVerb, "-y", "-q", name}
}

func (p rpmProvider) remove(name string) []string {
	return []string{p.tool, "remove", "-y", "-q", name}
}

func (rpmProvider) env() map[string]string { return nil }

// apkProvider is Alpine's apk.
type apkProvider struct{}

func (apkProvider) installed(ctx context.Context, env *Env, name string) (pkgState, error) {
	res, err := query(ctx, env, "apk", "info", "-e", name)
	if err != nil {
		return pkgState{}, err
	}
	if res.RC != 0 {
		return pkgState{}, nil
	}
	// The version comes from "apk list -I NAME":
	// "NAME-1.2.3-r0 x86_64 {origin} (license) [installed]".
	res, err = query(ctx, env, "apk", "list", "-I", name)
	if err != nil {
		return pkgState{}, err
	}
	return pkgState{present: true, version: apkVersion(res.Stdout, name)}, nil
}

func apkVersion(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if v, ok := strings.CutPrefix(f[0], name+"-"); ok && v != "" && v[0] >= '0' && v[0] <= '9' {
			return v
		}
	}
	return ""
}

func (apkProvider) upgradable(ctx context.Context, env *Env, name, _ string) (bool, error) {
	res, err := query(ctx, env, "apk", "list", "-u", name)
	if err != nil {
		return false, err
	}
	if res.RC != 0 {
		return false, fmt.Errorf("apk list -u %s: exit status %d: %s", name, res.RC, lastLine(res.Stderr))
	}
	return apkVersion(res.Stdout, name) != "", nil
}

func (apkProvider) updateCache() []string { return []string{"apk", "update", "-q"} }

func (apkProvider) install(name, version string) []string {
	if version != "" {
		name += "=" + version
	}
	return []string{"apk", "add", "-q", name}
}

func (apkProvider) upgrade(name string) []string { return []string{"apk", "add", "-q", "-u", name} }

func (apkProvider) remove(name string) []string { return []string{"apk", "del", "-q", name} }

func (apkProvider) env() map[string]string { return nil }
