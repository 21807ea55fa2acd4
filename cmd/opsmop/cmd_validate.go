package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/opsmop/opsmop/policy"
)

type validateOptions struct {
	Policy    string
	ExtraVars []string
	Out       io.Writer
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name: "validate", Usage: "parse and type-check every role of a policy without touching any machine",
		ArgsUsage: "POLICY",
		Flags:     []cli.Flag{extraVarsFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("validate: want exactly one policy file, got %d arguments", c.NArg())
			}
			return runValidate(c.Context, validateOptions{Policy: c.Args().First(), ExtraVars: c.StringSlice("extra-vars"), Out: os.Stdout})
		},
	}
}

func runValidate(_ context.Context, opts validateOptions) error {
	extra, err := parseExtraVars(opts.ExtraVars)
	if err != nil {
		return err
	}
	p, err := policy.Load(opts.Policy)
	if err != nil {
		return err
	}
	if err := p.Validate(extra); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "%s: ok (%d roles)\n", opts.Policy, len(p.Roles))
	return nil
}
