package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/opsmop/opsmop/worker"
)

type factsOptions struct{ Out io.Writer }

func factsCommand() *cli.Command {
	return &cli.Command{
		Name: "facts", Usage: "print this machine's facts as JSON",
		Action: func(c *cli.Context) error { return runFacts(c.Context, factsOptions{Out: os.Stdout}) },
	}
}

func runFacts(ctx context.Context, opts factsOptions) error { return worker.PrintFacts(ctx, opts.Out) }
