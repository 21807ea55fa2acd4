package main

import (
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/opsmop/opsmop/controller"
)

// commonOptions are the flags check, apply and push share.
type commonOptions struct {
	Policy    string
	ExtraVars []string
	Tags      []string
	SkipTags  []string
	Diff      bool
	Verbose   bool
	JSON      bool
}

func commonFlags() []cli.Flag {
	return []cli.Flag{
		extraVarsFlag(),
		&cli.StringSliceFlag{Name: "tags", Usage: "run only resources with one of these tags (comma-separated)"},
		&cli.StringSliceFlag{Name: "skip-tags", Usage: "skip resources with any of these tags"},
		&cli.BoolFlag{Name: "diff", Usage: "show a unified diff of file content changes"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show command output and connection details"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON event per line instead of text"},
	}
}

func extraVarsFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "extra-vars", Aliases: []string{"e"}, Usage: "variables of highest precedence: `VARS` is k=v k2='a b', or @file.json / @file.toml"}
}

func readCommon(c *cli.Context) (commonOptions, error) {
	if c.NArg() != 1 {
		return commonOptions{}, usagef("%s: want exactly one policy file, got %d arguments", c.Command.FullName(), c.NArg())
	}
	return commonOptions{
		Policy:    c.Args().First(),
		ExtraVars: c.StringSlice("extra-vars"),
		Tags:      splitCommas(c.StringSlice("tags")),
		SkipTags:  splitCommas(c.StringSlice("skip-tags")),
		Diff:      c.Bool("diff"),
		Verbose:   c.Bool("verbose"),
		JSON:      c.Bool("json"),
	}, nil
}

func splitCommas(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// reporter picks the output form: JSON lines; a live view for push mode on
// a terminal (--verbose wants every line, so it gets text); or text,
// coloured on a terminal.
func (o commonOptions) reporter(push bool) controller.Reporter {
	if o.JSON {
		return controller.NewJSONReporter(os.Stdout)
	}
	tty := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("TERM") != "dumb"
	color := tty && os.Getenv("NO_COLOR") == ""
	if push && tty && !o.Verbose {
		return controller.NewProgressReporter(os.Stdout, color)
	}
	return controller.NewTextReporter(os.Stdout, color, o.Verbose, push)
}

func (o commonOptions) controllerOptions(check bool) (controller.Options, error) {
	extra, err := parseExtraVars(o.ExtraVars)
	if err != nil {
		return controller.Options{}, err
	}
	return controller.Options{
		PolicyPath: o.Policy, Check: check, Diff: o.Diff, ExtraVars: extra, Tags: o.Tags, SkipTags: o.SkipTags,
	}, nil
}
