package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/opsmop/opsmop/worker"
)

type workerOptions struct {
	// BuildSHA256 is what the bootstrap script verified the binary
	// against; empty makes the worker hash itself.
	BuildSHA256 string
	// SameBuild: the controller started this very executable (through
	// /proc/<pid>/exe), so there is no build to check and no hash to make.
	SameBuild bool
}

func workerCommand() *cli.Command {
	return &cli.Command{
		Name: "worker", Usage: "serve the worker protocol on stdin/stdout (started by the controller)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "build-sha256", Usage: "the sha256 this binary was verified against"},
			&cli.BoolFlag{Name: "same-build", Usage: "started by a local controller from its own executable"},
		},
		Action: func(c *cli.Context) error {
			return runWorker(c.Context, workerOptions{BuildSHA256: c.String("build-sha256"), SameBuild: c.Bool("same-build")})
		},
	}
}

// runWorker serves one controller session on stdin/stdout; logs go to
// stderr, which the controller shows as log lines.
func runWorker(ctx context.Context, opts workerOptions) error {
	return worker.RunStdio(ctx, opts.BuildSHA256, opts.SameBuild)
}
