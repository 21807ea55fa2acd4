package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("shell", newShell) }

// Shell is the Shell resource: a command run by `sh -c`, the one resource
// that asks for a shell. Its output streams to the controller line by line
// as it runs.
//
// Plan actions: "run", or nothing when the creates path exists or the
// removes path does not (the command has already done its work). A non-zero
// exit status fails the resource.
type Shell struct {
	cmd     string
	creates string
	removes string
	chdir   string
	timeout time.Duration
	env     map[string]string
	// inCheck: check_mode=False, a read-only command that runs in check
	// mode too, so its registered result is real there.
	inCheck bool
}

func newShell(name string, p Params) (Resource, error) {
	if name == "" {
		return nil, errors.New("shell: cmd must not be empty")
	}
	r := &Shell{cmd: name}
	rd := p.reader()
	r.creates = rd.String("creates", "")
	r.removes = rd.String("removes", "")
	r.chdir = rd.String("chdir", "")
	secs := rd.Int("timeout", 0)
	if secs < 0 {
		rd.keep(fmt.Errorf("shell: parameter \"timeout\" must not be negative, got %d", secs))
	}
	r.timeout = time.Duration(secs) * time.Second
	r.env = rd.StringMap("environment")
	r.inCheck = !rd.Bool("check_mode", true)
	if err := rd.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Shell) runsInCheck() bool { return r.inCheck }

// Plan decides from the creates and removes guards whether to run.
func (r *Shell) Plan(ctx context.Context, env *Env) ([]string, error) {
	if r.creates != "" {
		exists, err := pathExists(r.creates)
		if err != nil {
			return nil, fmt.Errorf("shell: creates: %w", err)
		}
		if exists {
			return nil, nil
		}
	}
	if r.removes != "" {
		exists, err := pathExists(r.removes)
		if err != nil {
			return nil, fmt.Errorf("shell: removes: %w", err)
		}
		if !exists {
			return nil, nil
		}
	}
	return []string{"run"}, nil
}

func pathExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// planDetail shows the command in a check-mode result too.
func (r *Shell) planDetail(res *protocol.Result) { res.Cmd = r.cmd }

// Apply runs the command.
func (r *Shell) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	out, err := Run(ctx, env, Command{Argv: []string{"sh", "-c", r.cmd}, Dir: r.chdir, Env: r.env, Timeout: r.timeout})
	res := &protocol.Result{RC: out.RC, Stdout: out.Stdout, Stderr: out.Stderr, Cmd: r.cmd}
	if err != nil {
		return res, err
	}
	if out.RC != 0 {
		res.Failed = true
		res.Msg = fmt.Sprintf("command exited with status %d", out.RC)
	}
	return res, nil
}
