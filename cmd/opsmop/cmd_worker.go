package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/opsmop/opsmop/internal/buildinfo"
	"github.com/opsmop/opsmop/worker"
)

func workerCommand() *cli.Command {
	return &cli.Command{
		Name: "worker", Usage: "serve the worker protocol on stdin/stdout (started by the controller)",
		Hidden: true,
		Action: func(c *cli.Context) error { return runWorker(c.Context) },
	}
}

// runWorker serves one controller session on stdin/stdout; logs go to
// stderr, which the controller shows as log lines.
func runWorker(ctx context.Context) error {
	hash, err := buildinfo.Hash()
	if err != nil {
		return err
	}
	// On a pty (sudo requiretty) stdout and stderr are one stream: logs
	// must go to a file, and the terminal must be raw.
	logTo, restore, err := worker.PrepareStdio()
	if err != nil {
		return err
	}
	defer restore()
	return worker.ServeStdio(ctx, worker.ServeOptions{BuildHash: hash, Log: logTo})
}
