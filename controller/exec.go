package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// executor runs one role's resources and handlers on one host.
//
// Resources go to the worker in batches: one run call carries every resource
// up to the next one that needs something only known after an earlier one
// ran (a registered result, a Set, a failed_when), so a role without such
// dependencies costs one round trip however many resources it has.
type executor struct {
	h        *hostRun
	ws       *workerSession
	role     *policy.Role
	exp      *policy.Expanded
	roleVars map[string]any
	notified map[string]bool
	failed   bool
	stopped  bool // Stop ran: the rest of the host's run is skipped
	// merged is the host's merged variables, kept between resources until
	// something they come from changes (setVar, refreshed facts): merging
	// copies every fact, and a role's resources mostly see the same vars.
	// Only readers get it; callers that add names use vars().
	merged *policy.Scope
}

// step is a resource on its way to the worker.
type step struct {
	res   *policy.Resource
	index int
	wire  protocol.Resource
	pos   int              // position in its batch
	local *protocol.Result // decided without the worker: skipped or failed early
	done  bool             // its result arrived
}

func (x *executor) run(ctx context.Context) bool {
	if !x.runList(ctx, x.exp.Resources) {
		return false
	}
	return x.runHandlers(ctx)
}

// vars returns the host's variables merged into a new map the caller may
// change.
func (x *executor) vars() map[string]any { return x.h.scope(x.ws, x.roleVars) }

// sharedVars returns the host's merged variables for reading only, ready
// to render templates: the same until dropVars.
func (x *executor) sharedVars() *policy.Scope {
	if x.merged == nil {
		x.merged = policy.NewScope(x.vars())
	}
	return x.merged
}

// dropVars forgets the merged variables after one of their sources changed.
func (x *executor) dropVars() { x.merged = nil }

// setVar sets a host variable (a Set, a registered result) for this and
// later roles.
func (x *executor) setVar(name string, v any) {
	x.h.setVar(name, v)
	x.dropVars()
}

// runList runs resources in order and reports whether none failed.
func (x *executor) runList(ctx context.Context, list []*policy.Resource) bool {
	var batch []*step
	pending := map[string]bool{} // names the current batch will register
	for _, res := range list {
		if !x.selected(res) {
			continue
		}
		if isModule(res.Type) || x.dependsOn(res, pending) {
			if !x.flush(ctx, &batch) {
				return false
			}
			clear(pending)
		}
		if x.stopped {
			return true
		}
		if isModule(res.Type) {
			if !x.runModule(res) {
				return false
			}
			continue
		}
		st := x.prepare(res, len(batch))
		batch = append(batch, st)
		if st.local != nil && st.local.Failed {
			if !x.flush(ctx, &batch) {
				return false
			}
			continue
		}
		if st.local == nil && res.Register != "" {
			pending[res.Register] = true
		}
		if res.FailedWhen != "" || res.ChangedWhen != "" {
			if !x.flush(ctx, &batch) {
				return false
			}
			clear(pending)
		}
	}
	return x.flush(ctx, &batch)
}

// prepare decides a resource's condition and resolves it for the wire. A
// resource decided here (skipped, or failed before it could be sent) is a
// local step: it is reported in order when its batch is flushed.
func (x *executor) prepare(res *policy.Resource, pos int) *step {
	st := &step{res: res, index: x.h.nextIndex(), pos: pos}
	vars := x.sharedVars() // the name, the condition and the parameters only read it
	if err := renderName(res, vars); err != nil {
		return x.localFailure(st, err)
	}
	ok, err := x.testWith(res.When, vars.Vars())
	if err != nil {
		return x.localFailure(st, fmt.Errorf("%s: when: %w", res.Pos, err))
	}
	if !ok {
		st.local = skipped(res)
		x.register(res, st.local) // later resources may read it at once
		return st
	}
	if st.wire, err = x.resolve(res, st.index, vars); err != nil {
		return x.localFailure(st, err)
	}
	return st
}

// localFailure records a resource that failed before reaching the worker:
// a template, condition or file source that the policy got wrong.
func (x *executor) localFailure(st *step, err error) *step {
	st.local = x.policyFailure(err)
	return st
}

// policyFailure is the result of a resource the policy got wrong, noted so
// that the run exits as a policy error.
func (x *executor) policyFailure(err error) *protocol.Result {
	x.h.notePolicyError(err)
	return &protocol.Result{Status: protocol.StatusFailed, Failed: true, Msg: err.Error()}
}

// skipped is the result of a resource whose condition is false.
func skipped(res *policy.Resource) *protocol.Result {
	return &protocol.Result{Status: protocol.StatusSkipped, Msg: "condition false: " + res.When.Source()}
}

// renderName renders a name given as T("..."); Expand hands each host its
// own copy of the resources, so the rendered name can replace the source.
func renderName(res *policy.Resource, vars *policy.Scope) error {
	if res.NameTemplate == nil {
		return nil
	}
	name, err := vars.Render(res.NameTemplate.Name(), res.NameTemplate.Src)
	if err != nil {
		return fmt.Errorf("%s: %s name: %w", res.Pos, res.Type, err)
	}
	res.Name, res.NameTemplate = name, nil
	return nil
}

func (x *executor) skip(res *policy.Resource, idx int) {
	r := skipped(res)
	x.register(res, r)
	x.h.count(r.Status, 0)
	x.h.r.report(x.event(EvResult, res, idx, r))
}

// reportLocals reports the local steps from position from up to the next
// step that went to the worker, so results appear in policy order.
func (x *executor) reportLocals(steps []*step, from int) {
	for i := from; i < len(steps) && steps[i].local != nil; i++ {
		st := steps[i]
		if st.local.Status == protocol.StatusSkipped {
			x.h.count(st.local.Status, 0)
			x.h.r.report(x.event(EvResult, st.res, st.index, st.local))
			continue
		}
		x.finish(st.res, st.index, st.local)
	}
}

func (x *executor) failPrep(res *policy.Resource, idx int, err error) bool {
	return x.finish(res, idx, x.policyFailure(err))
}

func (x *executor) test(c policy.Cond) (bool, error) {
	if !c.IsSet() {
		return true, nil
	}
	return x.testWith(c, x.sharedVars().Vars())
}

// testWith decides c with variables already merged.
func (x *executor) testWith(c policy.Cond, vars map[string]any) (bool, error) {
	if !c.IsSet() {
		return true, nil
	}
	return c.Test(policy.Host{Name: x.h.inv.Name, Vars: vars, Facts: x.ws.facts})
}

// selected applies --tags and --skip-tags; the role's tags count for each
// of its resources, and "always" (or OpsMop's "any") always runs.
func (x *executor) selected(res *policy.Resource) bool {
	tags := append(slices.Clone(x.role.Tags), res.Tags...)
	if hasAny(tags, x.h.r.opts.SkipTags) {
		return false
	}
	if len(x.h.r.opts.Tags) == 0 {
		return true
	}
	return hasAny(tags, x.h.r.opts.Tags) || hasAny(tags, []string{"always", "any"})
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

// dependsOn reports whether res reads a name that a resource still in the
// batch will register. Identifiers over-approximates the names a template
// reads, so a dependency is never missed; a function condition may read
// anything, so it counts as a dependency whenever one is pending.
func (x *executor) dependsOn(res *policy.Resource, pending map[string]bool) bool {
	if len(pending) == 0 {
		return false
	}
	if res.When.IsFunc() {
		return true
	}
	for _, src := range x.templateSources(res) {
		for _, id := range policy.Identifiers(src) {
			if pending[id] {
				return true
			}
		}
	}
	return false
}

// templateSources lists every template and expression text a resource
// holds, a from_template file's text included.
func (x *executor) templateSources(res *policy.Resource) []string {
	var out []string
	if res.When.IsSet() {
		out = append(out, res.When.Source())
	}
	out = append(out, res.FailedWhen, res.ChangedWhen)
	walkTemplates(res.Params, func(s string) { out = append(out, s) })
	if rel, ok := res.Params["from_template"].(string); ok {
		// Unreadable here means resolve reports it; nothing to depend on.
		if src, err := x.h.r.readFile(rel); err == nil {
			out = append(out, string(src))
		}
	}
	return out
}

func walkTemplates(v any, f func(string)) {
	switch t := v.(type) {
	case *policy.Template:
		f(t.Src)
	case *policy.Eval:
		f(t.Expr)
	case map[string]any:
		for _, e := range t {
			walkTemplates(e, f)
		}
	case []any:
		for _, e := range t {
			walkTemplates(e, f)
		}
	}
}

func (x *executor) checkSignals() error {
	known := map[string]bool{}
	for _, hd := range x.exp.Handlers {
		known[hd.Name] = true
	}
	for _, res := range x.exp.Resources {
		for _, s := range res.Signals {
			if !known[s] {
				return fmt.Errorf("%s: %s signals handler %q, but role %q has no such handler", res.Pos, res.Type, s, x.role.Name)
			}
		}
	}
	return nil
}

func (x *executor) event(kind string, res *policy.Resource, idx int, r *protocol.Result) Event {
	e := Event{Kind: kind, Host: x.h.inv.Name, Role: x.role.Name, Index: idx, Resource: displayName(res), Result: r, Check: x.h.r.opts.Check}
	if r != nil {
		e.Status, e.Actions = r.Status, r.Actions
	}
	return e
}

func displayName(res *policy.Resource) string {
	if res.Name == "" || isModule(res.Type) {
		return res.Type
	}
	return res.Type + " " + res.Name
}
