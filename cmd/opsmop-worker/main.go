// Command opsmop-worker is the worker half of opsmop alone: what the
// controller uploads to hosts and starts there. It carries no Starlark,
// Jinja, SSH client or terminal UI, so it is a quarter of opsmop's size,
// and every host hashes it on each start and receives it on the first.
// `make build` embeds it, compressed, in opsmop.
//
//	opsmop-worker worker [--build-sha256 HASH]   serve the protocol on stdin/stdout
//	opsmop-worker facts                          print this machine's facts as JSON
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/opsmop/opsmop/worker"
)

func main() {
	// One P: the worker waits on pipes and child processes, and with more
	// the runtime spends its time starting and waking threads. Measured on
	// one host, 40 warm checks under perf record -a: 6.9 ms of worker CPU
	// per run with two Ps, 6.0 ms with one. Children are unaffected. The
	// boot script already starts the runtime with GOMAXPROCS=1, which saves
	// the threads made before main; this covers a start by hand.
	runtime.GOMAXPROCS(1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = "usage: opsmop-worker worker [--build-sha256 HASH] | opsmop-worker facts"

// run is main without the process: exit 0 on success, 1 on a failure, 2 on
// a usage error, as opsmop's own codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// A bug must not reach a user as a stack trace.
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "opsmop-worker: internal error: %v\n", p)
			code = 1
		}
	}()
	err := dispatch(ctx, args, stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "opsmop-worker: %s\n%s\n", ue.msg, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "opsmop-worker: %v\n", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sha := fs.String("build-sha256", "", "the sha256 this binary was verified against")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{fmt.Sprintf("%s: %v", args[0], err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", args[0], fs.Arg(0))}
	}
	switch args[0] {
	case "worker":
		return worker.RunStdio(ctx, *sha, false)
	case "facts":
		return worker.PrintFacts(ctx, stdout)
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
