package transport

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LocalOptions tune DialLocal.
type LocalOptions struct {
	Binary       string // the worker binary; default the running executable
	Sudo         bool
	SudoUser     string  // default root
	SudoPassword *string // nil: sudo -n
	Log          io.Writer
	Name         string // for log lines and errors; default "local"
}

// DialLocal starts `<binary> worker` as a child process, under sudo if
// asked, and returns its stdio.
func DialLocal(ctx context.Context, opts LocalOptions) (Conn, error) {
	name := opts.Name
	if name == "" {
		name = "local"
	}
	sudo := sudoSpec{Enabled: opts.Sudo, User: opts.SudoUser, Password: opts.SudoPassword != nil}
	bin, same, err := localWorkerBinary(opts.Binary, sudo)
	if err != nil {
		return nil, err
	}
	args := []string{"worker"}
	if same {
		args = append(args, "--same-build")
	}
	if !sudo.Enabled {
		lp, err := startLocal(name, append([]string{bin}, args...), nil, opts.Log)
		if err != nil {
			return nil, err
		}
		c := &conn{p: lp.proc, sameBuild: same}
		c.w = countingWriter{w: lp.stdin, n: &c.sent}
		c.r = countingReader{r: lp.stdout, n: &c.recv}
		c.stats.WorkerCached = true
		go readStderr(lp.proc.stderr, &lineSplitter{}, nil, closedChan(), opts.Log, name)
		c.closer = lp.close
		return c, nil
	}
	if sudo.Password {
		sudo.Prompt = newPrompt()
	}
	lp, err := startLocal(name, localSudoArgv(bin, args, sudo), append(os.Environ(), "LC_ALL=C"), opts.Log)
	if err != nil {
		return nil, err
	}
	m := &bootMachine{host: name, sudo: sudo, hasPassword: sudo.Password}
	c, err := bootstrap(ctx, lp.proc, m, opts.SudoPassword, nil, Stats{})
	if err != nil {
		lp.close()
		return nil, err
	}
	c.sameBuild = same
	c.stats.WorkerCached = true
	c.closer = lp.close
	return c, nil
}

// localWorkerBinary is what a local worker runs: binary when given, else
// this very executable through its /proc link, which names the file this
// process runs even if its path now holds another build. The worker is
// then our build by construction (same is true) and neither side hashes
// opsmop's 15 MB: 20 ms of CPU of a 40 ms local check. A user sudo makes
// other than root may not open the link; it gets the path, and the hash.
func localWorkerBinary(binary string, sudo sudoSpec) (path string, same bool, err error) {
	if binary != "" {
		return binary, false, nil
	}
	link := "/proc/" + strconv.Itoa(os.Getpid()) + "/exe"
	if runtime.GOOS == "linux" && (!sudo.Enabled || sudo.targetUser() == "root") && usable(link) {
		return link, true, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", false, fmt.Errorf("find own executable: %w", err)
	}
	return self, false, nil
}

// usable says whether path can be opened: a /proc that is not mounted
// (some containers) sends the worker to the path instead.
func usable(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// localProc is a started child process.
type localProc struct {
	*proc
	close func() error
}

// startLocal starts argv with its stdio on pipes.
func startLocal(name string, argv, env []string, log io.Writer) (*localProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// The worker must not outlive us: if we die, its stdin hits EOF; the
	// parent-death signal covers a worker busy in a long resource.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Our own pipes rather than StdoutPipe: cmd.Wait must not close the
	// read ends while the last lines are still unread.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stderr, stderrW, err := os.Pipe()
	if err != nil {
		stdout.Close()
		stdoutW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdout.Close()
		stderr.Close()
		stdin.Close()
		return nil, fmt.Errorf("start local worker %s: %w", argv[0], err)
	}
	stderrEOF := make(chan struct{})
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	lp := &localProc{proc: &proc{
		host:   name,
		stdin:  stdin,
		stdout: stdout,
		stderr: &eofReader{r: stderr, eof: stderrEOF},
		log:    log,
		wait:   func() error { <-exited; return exitErr },
		kill:   func() error { return cmd.Process.Kill() },
	}}
	lp.close = func() error {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		// Let the last log lines through, unless a grandchild keeps
		// stderr open.
		select {
		case <-stderrEOF:
		case <-time.After(time.Second):
		}
		stdout.Close()
		stderr.Close()
		return nil
	}
	return lp, nil
}

// eofReader closes eof when its reader returns an error.
type eofReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
