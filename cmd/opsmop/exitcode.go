package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opsmop/opsmop/controller"
)

// Exit codes, documented in docs/local.md and docs/push.md. This is the one
// place errors become exit codes.
const (
	exitOK          = 0
	exitUsage       = 1 // bad command line, policy, inventory or template: nothing ran
	exitFailed      = 2 // a resource failed on at least one host
	exitUnreachable = 4 // hosts could not be reached, none failed otherwise
	exitInterrupted = 130
)

// usageError marks a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// failedRunError carries the summary of a run in which hosts failed.
type failedRunError struct{ summary *controller.Summary }

func (e *failedRunError) Error() string {
	if e.summary == nil {
		return "run failed"
	}
	if f := e.summary.FailedHosts(); len(f) > 0 {
		return fmt.Sprintf("%d host(s) failed", len(f))
	}
	return fmt.Sprintf("%d host(s) unreachable", len(e.summary.UnreachableHosts()))
}

// exitCode prints err for a person (never a stack trace) and returns the
// process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var fr *failedRunError
	switch {
	case errors.As(err, &fr):
		if fr.summary != nil && len(fr.summary.FailedHosts()) == 0 {
			return exitUnreachable
		}
		return exitFailed
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "opsmop: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "opsmop: "+err.Error())
	return exitUsage
}
