package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testInitScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          opsmop-test-svc
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: opsmop test service
### END INIT INFO
PIDFILE=/run/opsmop-test-svc.pid
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
start)
	running && exit 0
	sleep 100000 </dev/null >/dev/null 2>&1 &
	echo $! >"$PIDFILE" ;;
stop)
	running && kill "$(cat "$PIDFILE")"
	rm -f "$PIDFILE" ;;
restart)
	"$0" stop
	"$0" start ;;
status)
	running && { echo running; exit 0; }
	echo stopped
	exit 3 ;;
*)
	echo "usage: $0 start|stop|restart|status" >&2
	exit 2 ;;
esac
`

// TestServiceSysvIntegration drives a tiny init script through service(8)
// and update-rc.d(8), where systemd is not PID 1.
func TestServiceSysvIntegration(t *testing.T) {
	sysRequireRoot(t, "service", "update-rc.d")
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() {
		t.Skip("systemd is PID 1 here: service(8) would go through systemctl, which the golden tests cover")
	}
	const name = "opsmop-test-svc"
	script := filepath.Join("/etc/init.d", name)
	pidfile := "/run/" + name + ".pid"
	if _, err := os.Stat(script); err == nil {
		t.Fatalf("%s exists; remove it before running this test", script)
	}
	if err := os.WriteFile(script, []byte(testInitScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(script, "stop").Run()
		exec.Command("update-rc.d", "-f", name, "remove").Run()
		os.Remove(script)
		os.Remove(pidfile)
	})
	ctx := context.Background()
	env := &Env{}
	running := func() bool { return exec.Command("service", name, "status").Run() == nil }
	startLinks := func() []string {
		m, _ := filepath.Glob("/etc/rc[2345].d/S[0-9][0-9]" + name)
		return m
	}
	pid := func() string { b, _ := os.ReadFile(pidfile); return strings.TrimSpace(string(b)) }

	up := sysBuild(t, "service", name, map[string]any{"started": true, "enabled": true})
	if plan, err := up.Plan(ctx, &Env{Check: true}); err != nil || !reflect.DeepEqual(plan, []string{"start", "enable"}) {
		t.Fatalf("check plan = %q, %v", plan, err)
	}
	if running() || len(startLinks()) > 0 {
		t.Fatal("planning started or enabled the service")
	}
	sysPlanApply(t, env, up, "start", "enable")
	if !running() || len(startLinks()) == 0 {
		t.Fatalf("after apply: running=%v links=%q", running(), startLinks())
	}
	sysPlanApply(t, env, up)

	// restarted=True restarts a running service: a new process.
	before := pid()
	sysPlanApply(t, env, sysBuild(t, "service", name, map[string]any{"restarted": true}), "restart")
	if after := pid(); !running() || after == before || after == "" {
		t.Fatalf("restart: pid %s -> %s, running=%v", before, after, running())
	}

	down := sysBuild(t, "service", name, map[string]any{"started": false, "enabled": false})
	sysPlanApply(t, env, down, "stop", "disable")
	if running() || len(startLinks()) > 0 {
		t.Fatalf("after stop/disable: running=%v links=%q", running(), startLinks())
	}
	sysPlanApply(t, env, down)
	// Re-enabling a disabled script flips its existing links.
	sysPlanApply(t, env, sysBuild(t, "service", name, map[string]any{"enabled": true}), "enable")
	if len(startLinks()) == 0 {
		t.Fatal("no start links after enabling again")
	}
}
