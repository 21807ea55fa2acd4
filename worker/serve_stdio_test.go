package worker

import (
	"context"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// TestHelperServeStdio is the worker process of TestServeStdio: the test
// binary run again with OPSMOP_TEST_SERVE_STDIO set.
func TestHelperServeStdio(t *testing.T) {
	if os.Getenv("OPSMOP_TEST_SERVE_STDIO") == "" {
		t.Skip("helper process for TestServeStdio")
	}
	err := ServeStdio(context.Background(), ServeOptions{BuildHash: "stdio", Log: os.Stderr})
	if err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// pipeConn is the controller's end of a child's stdin and stdout.
type pipeConn struct {
	io.Reader
	io.WriteCloser
}

func TestServeStdio(t *testing.T) {
	tests := []struct {
		name string
		end  func(cmd *exec.Cmd, stdin io.Closer) error
	}{
		{"stdin closed", func(_ *exec.Cmd, stdin io.Closer) error { return stdin.Close() }},
		{"SIGTERM", func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Signal(syscall.SIGTERM) }},
		{"SIGHUP", func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Signal(syscall.SIGHUP) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeStdio$")
			cmd.Env = append(os.Environ(), "OPSMOP_TEST_SERVE_STDIO=1")
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			ctl, err := protocol.Client(pipeConn{stdout, stdin})
			if err != nil {
				t.Fatal(err)
			}
			defer ctl.Close()
			h, err := ctl.Handshake(context.Background(), protocol.Hello{Version: protocol.Version, BuildHash: "stdio"})
			if err != nil {
				t.Fatalf("handshake over stdio: %v", err)
			}
			if h.PID != cmd.Process.Pid {
				t.Fatalf("hello from pid %d, child is %d", h.PID, cmd.Process.Pid)
			}
			if err := tt.end(cmd, stdin); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("worker exited with %v, want a clean exit", err)
			}
		})
	}
}
