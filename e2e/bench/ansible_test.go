package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// ansibleCfg puts Ansible at its best for this workload: pipelining on,
// no fact gathering, forks equal to the host count, a known interpreter
// (no discovery round trip), SSH connection sharing within a run. Host
// keys are checked against the same known_hosts as opsmop.
const ansibleCfg = `[defaults]
inventory = hosts.ini
forks = %d
gathering = explicit
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
timeout = 30
local_tmp = %s

[ssh_connection]
pipelining = True
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=%s -o IdentitiesOnly=yes
control_path_dir = %s
`

// runAnsible runs ansible-playbook on the bed's playbook, in check mode or
// not, bounded by timeout. Each run gets its own ControlPath directory, and
// the masters it leaves are told to exit, so no run reuses another's
// connections.
func runAnsible(ctx context.Context, bd *bed, check bool, timeout time.Duration) result {
	cp, err := os.MkdirTemp(bd.dir, "cp-")
	if err != nil {
		return result{Err: err}
	}
	defer exitMasters(cp)
	cfg := filepath.Join(bd.dir, "ansible.cfg")
	text := fmt.Sprintf(ansibleCfg, len(bd.hosts), filepath.Join(bd.dir, "ansible-tmp"),
		filepath.Join(bd.home, ".ssh", "known_hosts"), cp)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return result{Err: err}
	}
	args := []string{"playbook.yml"}
	if check {
		args = append(args, "--check")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", args...)
	cmd.Dir = bd.dir
	cmd.Env = append(cleanEnv(), "HOME="+bd.home, "ANSIBLE_CONFIG="+cfg, "ANSIBLE_NOCOLOR=1")
	// Its own process group, so a timeout ends the forks and ssh clients too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	busy0 := machineBusy()
	start := time.Now()
	err = cmd.Run()
	r := result{Wall: time.Since(start), Hosts: len(bd.hosts), MachineCPU: machineBusy() - busy0}
	r.Changed = recapChanged(out.Bytes())
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			// wait4 reports the child with its waited-for descendants:
			// the forks count, the daemonised ssh masters do not.
			r.MaxRSS = ru.Maxrss * 1024
			r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Err = fmt.Errorf("ansible-playbook: timed out after %v", timeout)
	case err != nil:
		r.Err = fmt.Errorf("ansible-playbook: %w: %s", err, lastLines(out.String(), 8))
	}
	_ = os.WriteFile(filepath.Join(bd.dir, "ansible-last.log"), out.Bytes(), 0o644)
	return r
}

var recapLine = regexp.MustCompile(`(?m)^\S+\s*:\s*ok=\d+\s+changed=(\d+)`)

// recapChanged sums changed= over the PLAY RECAP lines.
func recapChanged(out []byte) int {
	n := 0
	for _, m := range recapLine.FindAllSubmatch(out, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

// exitMasters asks every ControlPersist master with a socket in dir to exit.
func exitMasters(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		sock := filepath.Join(dir, e.Name())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		exec.CommandContext(ctx, "ssh", "-o", "ControlPath="+sock, "-O", "exit", "bench").Run()
		cancel()
	}
}
