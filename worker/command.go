package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is one process to run with an exact argv: never a shell string
// with interpolated names (Shell is the one resource that asks for sh -c).
type Command struct {
	Argv    []string
	Dir     string
	Env     map[string]string // added to the worker's environment
	Stdin   io.Reader
	Timeout time.Duration
	Quiet   bool // do not stream output lines (query commands)
}

// CmdResult is what a command did.
type CmdResult struct {
	RC     int
	Stdout string
	Stderr string
}

// String renders argv for display, quoting where needed.
func (c Command) String() string {
	parts := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, needsQuote) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func needsQuote(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
}

// Run runs c, streams its output lines through env.Emit unless c.Quiet, and
// returns its exit code. A non-zero exit is not an error; failing to start,
// or a timeout, is.
func Run(ctx context.Context, env *Env, c Command) (CmdResult, error) {
	if len(c.Argv) == 0 {
		return CmdResult{}, errors.New("run command: empty argv")
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Env = mergeEnv(c.Env)
	// Its own process group, so a timeout kills the children of sh -c too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	var wg sync.WaitGroup
	stdout, stderr, err := pipes(cmd)
	if err != nil {
		return CmdResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return CmdResult{RC: 127}, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	wg.Add(2)
	go collect(&wg, stdout, &out, "stdout", c.Quiet, env)
	go collect(&wg, stderr, &errb, "stderr", c.Quiet, env)
	wg.Wait()
	werr := cmd.Wait()
	res := CmdResult{RC: cmd.ProcessState.ExitCode(), Stdout: out.String(), Stderr: errb.String()}
	if ctx.Err() == context.DeadlineExceeded {
		return res, fmt.Errorf("run %s: timed out after %s", c.Argv[0], c.Timeout)
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		return res, fmt.Errorf("run %s: %w", c.Argv[0], werr)
	}
	return res, nil
}

func pipes(cmd *exec.Cmd) (io.Reader, io.Reader, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stdout pipe: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stderr pipe: %w", err)
	}
	return stdout, stderr, nil
}

func collect(wg *sync.WaitGroup, r io.Reader, buf *bytes.Buffer, stream string, quiet bool, env *Env) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	// Start small: most commands print a few short lines, and the scanner
	// doubles the buffer, up to the 16 MiB line limit, when a line needs it.
	sc.Buffer(make([]byte, 0, 4<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !quiet && env != nil && env.Emit != nil {
			env.Emit(stream, line)
		}
	}
	io.Copy(io.Discard, r)
}

func mergeEnv(extra map[string]string) []string {
	env := os.Environ()
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}
