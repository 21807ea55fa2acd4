package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/opsmop/opsmop/controller"
	"github.com/opsmop/opsmop/inventory"
)

// pushOptions are the options of `opsmop-push` and `opsmop push`.
type pushOptions struct {
	commonOptions
	Check         bool
	LimitGroups   []string
	LimitHosts    []string
	Forks         int
	AskPass       bool
	AskBecomePass bool
}

func pushFlags() []cli.Flag {
	return append(commonFlags(),
		&cli.BoolFlag{Name: "check", Usage: "show what would change on each host; change nothing"},
		&cli.BoolFlag{Name: "apply", Usage: "make the changes"},
		&cli.StringSliceFlag{Name: "limit-groups", Usage: "only hosts in groups matching these fnmatch patterns (comma-separated)"},
		&cli.StringSliceFlag{Name: "limit-hosts", Usage: "only hosts matching these fnmatch patterns (comma-separated)"},
		&cli.IntFlag{Name: "forks", Usage: "hosts in flight at once (0: all hosts of a batch)"},
		&cli.BoolFlag{Name: "ask-pass", Usage: "prompt once for the SSH password"},
		&cli.BoolFlag{Name: "ask-become-pass", Usage: "prompt once for the sudo password"},
	)
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name: "push", Usage: "run the policy on the hosts of each role's inventory over SSH",
		ArgsUsage: "--check|--apply POLICY", Flags: pushFlags(), Action: pushAction,
	}
}

// newPushApp is the app behind the opsmop-push name, OpsMop's command line.
func newPushApp() *cli.App {
	return &cli.App{
		Name: "opsmop-push", Usage: "run an OpsMop policy on many hosts over SSH",
		ArgsUsage: "--check|--apply POLICY", Flags: pushFlags(), Action: pushAction,
		HideHelpCommand: true, ExitErrHandler: func(*cli.Context, error) {}, OnUsageError: onUsageError,
		DisableSliceFlagSeparator: true,
	}
}

func pushAction(c *cli.Context) error {
	if c.Bool("check") == c.Bool("apply") {
		return usagef("push: give exactly one of --check or --apply")
	}
	common, err := readCommon(c)
	if err != nil {
		return err
	}
	return runPush(c.Context, pushOptions{
		commonOptions: common, Check: c.Bool("check"),
		LimitGroups: splitCommas(c.StringSlice("limit-groups")), LimitHosts: splitCommas(c.StringSlice("limit-hosts")),
		Forks: c.Int("forks"), AskPass: c.Bool("ask-pass"), AskBecomePass: c.Bool("ask-become-pass"),
	})
}

func runPush(ctx context.Context, opts pushOptions) error {
	copts, err := opts.controllerOptions(opts.Check)
	if err != nil {
		return err
	}
	if copts.Defaults, err = inventory.LoadDefaults(); err != nil {
		return err
	}
	if copts.AskedSSHPassword, err = askIf(opts.AskPass, "SSH password: "); err != nil {
		return err
	}
	if copts.AskedSudoPassword, err = askIf(opts.AskBecomePass, "sudo password: "); err != nil {
		return err
	}
	copts.Push, copts.Forks = true, opts.Forks
	copts.OpenFiles = raiseOpenFiles()
	copts.LimitGroups, copts.LimitHosts = opts.LimitGroups, opts.LimitHosts
	copts.Reporter = opts.reporter(true)
	if c, ok := copts.Reporter.(io.Closer); ok {
		defer c.Close() // the live view must leave the screen before an error
	}
	copts.Dial = controller.DefaultDialer(workerLog(opts.Verbose))
	sum, err := controller.Run(ctx, copts)
	return finishRun(ctx, sum, err)
}

// askIf prompts once on the terminal, without echo.
func askIf(ask bool, prompt string) (*string, error) {
	if !ask {
		return nil, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, usagef("cannot prompt for a password: no terminal (%v)", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	s := string(pw)
	return &s, nil
}
