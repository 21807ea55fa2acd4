package main

import (
	"context"
	"errors"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/opsmop/opsmop/controller"
)

// localOptions are the options of `opsmop check` and `opsmop apply`.
type localOptions struct {
	commonOptions
	Check bool
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name: "check", Usage: "show what applying the policy to this machine would change; change nothing",
		ArgsUsage: "POLICY", Flags: commonFlags(),
		Action: func(c *cli.Context) error { return localAction(c, true) },
	}
}

func applyCommand() *cli.Command {
	return &cli.Command{
		Name: "apply", Usage: "apply the policy to this machine",
		ArgsUsage: "POLICY", Flags: commonFlags(),
		Action: func(c *cli.Context) error { return localAction(c, false) },
	}
}

func localAction(c *cli.Context, check bool) error {
	common, err := readCommon(c)
	if err != nil {
		return err
	}
	return runLocal(c.Context, localOptions{commonOptions: common, Check: check})
}

// runLocal runs every role of the policy on this machine through a local
// worker child process: the same protocol push mode speaks over SSH.
func runLocal(ctx context.Context, opts localOptions) error {
	copts, err := opts.controllerOptions(opts.Check)
	if err != nil {
		return err
	}
	copts.Reporter = opts.reporter(false)
	if c, ok := copts.Reporter.(io.Closer); ok {
		defer c.Close() // buffered JSON lines go out before an error
	}
	copts.Dial = controller.DefaultDialer(workerLog(opts.Verbose))
	sum, err := controller.Run(ctx, copts)
	return finishRun(ctx, sum, err)
}

// finishRun turns a run's outcome into the error exitCode understands; an
// interrupted run is an interruption, whatever failed because of it.
func finishRun(ctx context.Context, sum *controller.Summary, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, controller.ErrHostsFailed) {
		return &failedRunError{summary: sum}
	}
	return err
}
