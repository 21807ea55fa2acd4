package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// svcProvider knows one service manager. action returns the commands for
// one planned action; it may query (sysvinit's enable depends on whether
// the script has rc links yet) but changes nothing itself.
type svcProvider interface {
	running(ctx context.Context, env *Env, name string) (bool, error)
	isEnabled(ctx context.Context, env *Env, name string) (bool, error)
	action(ctx context.Context, env *Env, act, name string) ([][]string, error)
}

var serviceProviders = map[string]svcProvider{
	"systemd": systemdProvider{},
	"sysv":    sysvProvider{etc: "/etc"},
	"openrc":  openrcProvider{},
}

// systemdProvider drives systemctl.
type systemdProvider struct{}

// running: is-active exits 0 only for an active unit (3 inactive, 4 unknown).
func (systemdProvider) running(ctx context.Context, env *Env, name string) (bool, error) {
	res, err := query(ctx, env, "systemctl", "is-active", "--quiet", name)
	return err == nil && res.RC == 0, err
}

// isEnabled: is-enabled exits 0 for enabled, static and alias units.
func (systemdProvider) isEnabled(ctx context.Context, env *Env, name string) (bool, error) {
	res, err := query(ctx, env, "systemctl", "is-enabled", "--quiet", name)
	return err == nil && res.RC == 0, err
}

func (systemdProvider) action(_ context.Context, _ *Env, act, name string) ([][]string, error) {
	switch act {
	case "start", "stop", "restart", "enable", "disable":
		return [][]string{{"systemctl", act, name}}, nil
	}
	return nil, unknownAction("service", act)
}

// sysvProvider drives init scripts through service(8) and update-rc.d(8).
type sysvProvider struct{ etc string }

// running: LSB status exits 0 when running, 3 when stopped, 4 when unknown.
func (sysvProvider) running(ctx context.Context, env *Env, name string) (bool, error) {
	res, err := query(ctx, env, "service", name, "status")
	return err == nil && res.RC == 0, err
}

// isEnabled looks for a start link in a multi-user runlevel.
func (p sysvProvider) isEnabled(_ context.Context, _ *Env, name string) (bool, error) {
	m, err := filepath.Glob(filepath.Join(p.etc, "rc[2345].d", "S[0-9][0-9]"+globQuote(name)))
	return len(m) > 0, err
}

func (p sysvProvider) hasLinks(name string) bool {
	m, _ := filepath.Glob(filepath.Join(p.etc, "rc[0-6S].d", "[SK][0-9][0-9]"+globQuote(name)))
	return len(m) > 0
}

func (p sysvProvider) action(_ context.Context, _ *Env, act, name string) ([][]string, error) {
	switch act {
	case "start", "stop", "restart":
		return [][]string{{"service", name, act}}, nil
	case "enable":
		// update-rc.d enable only flips existing links; a script that was
		// never installed needs its links made from its LSB header first.
		if !p.hasLinks(name) {
			return [][]string{{"update-rc.d", name, "defaults"}}, nil
		}
		return [][]string{{"update-rc.d", name, "enable"}}, nil
	case "disable":
		return [][]string{{"update-rc.d", name, "disable"}}, nil
	}
	return nil, unknownAction("service", act)
}

// globQuote escapes glob metacharacters; service names may hold '\'.
func globQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// openrcProvider drives rc-service and rc-update (default runlevel).
type openrcProvider struct{}

func (openrcProvider) running(ctx context.Context, env *Env, name string) (bool, error) {
	res, err := query(ctx, env, "rc-service", name, "status")
	return err == nil && res.RC == 0, err
}

// isEnabled parses "rc-update show default": lines of " name | default".
func (openrcProvider) isEnabled(ctx context.Context, env *Env, name string) (bool, error) {
	res, err := query(ctx, env, "rc-update", "show", "default")
	if err != nil {
		return false, err
	}
	if res.RC != 0 {
		return false, fmt.Errorf("rc-update show default: exit status %d: %s", res.RC, lastLine(res.Stderr))
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		svc, _, ok := strings.Cut(line, "|")
		if ok && strings.TrimSpace(svc) == name {
			return true, nil
		}
	}
	return false, nil
}

func (openrcProvider) action(_ context.Context, _ *Env, act, name string) ([][]string, error) {
	switch act {
	case "start", "stop", "restart":
		return [][]string{{"rc-service", name, act}}, nil
	case "enable":
		return [][]string{{"rc-update", "add", name, "default"}}, nil
	case "disable":
		return [][]string{{"rc-update", "del", name, "default"}}, nil
	}
	return nil, unknownAction("service", act)
}
