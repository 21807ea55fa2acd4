// Command fakeworker is a minimal `opsmop worker` for transport tests: it
// answers the hello handshake on its stdin/stdout and exits when the
// controller goes away. Used until cmd/opsmop can be built.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"runtime"
	"syscall"

	"github.com/opsmop/opsmop/internal/buildinfo"
	"github.com/opsmop/opsmop/protocol"
	"github.com/opsmop/opsmop/worker"
)

type stdio struct {
	io.Reader
	io.Writer
}

func (stdio) Close() error { return os.Stdin.Close() }

func main() {
	if len(os.Args) < 2 || os.Args[1] != "worker" {
		fmt.Fprintln(os.Stderr, "usage: fakeworker worker")
		os.Exit(2)
	}
	logTo, restore, err := worker.PrepareStdio()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	defer restore()
	// On a pty the controller hangs up instead of closing stdin.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP, syscall.SIGTERM)
	go func() { <-hup; restore(); os.Exit(0) }()
	fmt.Fprintln(logTo, "fakeworker started")
	sess, err := protocol.Server(stdio{os.Stdin, os.Stdout})
	if err != nil {
		fmt.Fprintln(logTo, err)
		return
	}
	hash, _ := buildinfo.Hash()
	// The bootstrap script passes the hash it verified; it must be ours.
	if len(os.Args) == 4 && os.Args[2] == "--build-sha256" && os.Args[3] != hash {
		fmt.Fprintf(logTo, "fakeworker: told --build-sha256 %s, but am %s\n", os.Args[3], hash)
		return
	}
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	for {
		in, err := sess.Accept()
		if err != nil {
			fmt.Fprintln(logTo, "session ended:", err)
			return
		}
		switch in.Method {
		case protocol.MethodHello:
			protocol.AnswerHello(in, protocol.Hello{Version: protocol.Version, BuildHash: hash, PID: os.Getpid(), User: name, Arch: runtime.GOARCH})
		case protocol.MethodShutdown:
			in.Reply(struct{}{}, nil)
			sess.Close()
			return
		default:
			in.Reply(nil, fmt.Errorf("fakeworker: no method %s", in.Method))
		}
	}
}
