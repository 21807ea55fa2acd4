package worker

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsmop/opsmop/protocol"
)

// envFact returns one string fact, from env's cache when it has one.
func envFact(ctx context.Context, env *Env, key string) (string, error) {
	var facts map[string]any
	var err error
	if env != nil && env.Facts != nil {
		facts, err = env.Facts.Get(ctx, false)
	} else {
		facts, err = GatherFacts(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("gather facts: %w", err)
	}
	s, _ := facts[key].(string)
	return s, nil
}

// invalidateFacts drops cached facts after a change they may describe.
func invalidateFacts(env *Env) {
	if env != nil && env.Facts != nil {
		env.Facts.Invalidate()
	}
}

// query runs a read-only command without streaming its output. Only a
// failure to start it is an error; callers interpret the exit code.
func query(ctx context.Context, env *Env, argv ...string) (CmdResult, error) {
	return Run(ctx, env, Command{Argv: argv, Env: ownCommandEnv(nil), Quiet: true})
}

// ownCommandEnv is extra with LC_ALL=C: the worker reads the output and
// messages of its own commands (package managers, systemctl, useradd), so
// they must not depend on the host's language.
func ownCommandEnv(extra map[string]string) map[string]string {
	env := map[string]string{"LC_ALL": "C"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// applier runs a resource's action commands in order, collecting what they
// did into one Result. The first failing command stops the resource.
type applier struct {
	ctx context.Context
	env *Env
	res *protocol.Result
}

func newApplier(ctx context.Context, env *Env, plan []string) *applier {
	return &applier{ctx: ctx, env: env, res: &protocol.Result{Status: protocol.StatusOK, Actions: plan}}
}

func (a *applier) run(extraEnv map[string]string, argv ...string) error {
	c := Command{Argv: argv, Env: ownCommandEnv(extraEnv)}
	r, err := Run(a.ctx, a.env, c)
	a.res.Cmd = c.String()
	a.res.RC = r.RC
	a.res.Stdout += r.Stdout
	a.res.Stderr += r.Stderr
	if err == nil && r.RC != 0 {
		err = fmt.Errorf("%s: exit status %d: %s", c, r.RC, lastLine(r.Stderr))
	}
	if err != nil {
		a.res.Status = protocol.StatusFailed
		a.res.Failed = true
		a.res.Msg = err.Error()
		return err
	}
	a.res.Status = protocol.StatusChanged
	a.res.Changed = true
	return nil
}

// result returns the collected result with err, for Apply's return.
func (a *applier) result(err error) (*protocol.Result, error) {
	return a.res, err
}

func hasAction(plan []string, action string) bool {
	for _, p := range plan {
		if p == action {
			return true
		}
	}
	return false
}

// unknownAction is the error for a plan Apply does not understand: plans
// come from Plan, so this is a bug or a mismatched controller.
func unknownAction(typ, action string) error {
	return fmt.Errorf("%s: unknown planned action %q", typ, action)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
