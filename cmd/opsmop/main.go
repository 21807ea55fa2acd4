// Command opsmop applies OpsMop policies: on this machine (check, apply,
// validate), on fleets over SSH (push, or the opsmop-push name), and as the
// worker that both modes start.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		// A bug must not reach a user as a stack trace.
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "opsmop: internal error: %v\n", p)
			os.Exit(exitUsage)
		}
	}()
	app := newApp()
	if filepath.Base(args[0]) == "opsmop-push" {
		app = newPushApp()
	}
	return exitCode(app.RunContext(ctx, args), os.Stderr)
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "opsmop",
		Usage: "apply OpsMop policies to this machine, or push them to fleets over SSH",
		Commands: []*cli.Command{
			checkCommand(), applyCommand(), validateCommand(), pushCommand(), factsCommand(), workerCommand(),
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError:    onUsageError,
		// Values such as --extra-vars msg=a,b keep their commas; the list
		// flags split commas themselves.
		DisableSliceFlagSeparator: true,
	}
}

func onUsageError(_ *cli.Context, err error, _ bool) error { return usagef("%s", err) }
