package controller

import (
	"errors"
	"fmt"
)

// ErrHostsFailed is returned by Run when the run itself worked but at least
// one host failed or was unreachable; the Summary says which.
var ErrHostsFailed = errors.New("one or more hosts failed")

// PolicyError wraps a problem with the policy or its inputs (syntax, types,
// templates, inventory): nothing was changed on any host.
type PolicyError struct{ Err error }

func (e *PolicyError) Error() string { return e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

func policyErr(format string, a ...any) error {
	return &PolicyError{Err: fmt.Errorf(format, a...)}
}
