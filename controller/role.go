package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/opsmop/opsmop/controller/transport"
	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// runRoleSafely is runRole with a bug in it turned into this host's
// failure: one host's panic must neither kill the other hosts' runs nor
// reach the user as a stack trace.
func (h *hostRun) runRoleSafely(ctx context.Context, role *policy.Role) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			h.fail(role, fmt.Errorf("internal error: %v", p), false)
			ok = false
		}
	}()
	return h.runRole(ctx, role)
}

// runRole runs one role on this host and reports whether the host is still
// healthy afterwards.
func (h *hostRun) runRole(ctx context.Context, role *policy.Role) bool {
	if h.isDead() {
		return false
	}
	h.markStarted()
	defer h.markDuration()
	h.r.report(Event{Kind: EvHostStart, Host: h.inv.Name, Role: role.Name})
	ws, err := h.session(ctx, role)
	if err != nil {
		if isPolicyError(err) {
			h.notePolicyError(err)
		}
		h.fail(role, err, isUnreachable(err))
		return false
	}
	x, err := h.prepareRole(ws, role)
	if err != nil {
		h.notePolicyError(err)
		h.fail(role, err, false)
		return false
	}
	if x == nil {
		h.reportDone(role, true) // the role's when is false for this host
		return true
	}
	h.r.report(Event{Kind: EvRoleStart, Host: h.inv.Name, Role: role.Name, Check: h.r.opts.Check})
	ok := x.run(ctx)
	if !ok {
		h.setDead()
	}
	h.reportDone(role, ok)
	return ok
}

// reportDone tells reporters that this host finished a role.
func (h *hostRun) reportDone(role *policy.Role, ok bool) {
	h.markDuration()
	st := h.statsSnapshot()
	status := protocol.StatusOK
	if !ok {
		status = protocol.StatusFailed
	}
	h.r.report(Event{Kind: EvHostDone, Host: h.inv.Name, Role: role.Name, Status: status, Stats: &st})
}

// prepareRole expands the role for this host and decides its condition; it
// returns nil when the role does not apply here.
func (h *hostRun) prepareRole(ws *workerSession, role *policy.Role) (*executor, error) {
	base := h.scope(ws, nil)
	exp, err := role.Expand(policy.Host{Name: h.inv.Name, Vars: base, Facts: ws.facts})
	if err != nil {
		return nil, err
	}
	roleVars, err := resolveVars(exp.Variables, base)
	if err != nil {
		return nil, fmt.Errorf("%s: role %q variables: %w", role.Pos, role.Name, err)
	}
	x := &executor{h: h, ws: ws, role: role, exp: exp, roleVars: roleVars, notified: map[string]bool{}}
	if err := x.checkSignals(); err != nil {
		return nil, err
	}
	ok, err := x.test(exp.When)
	if err != nil {
		return nil, fmt.Errorf("%s: role %q when: %w", role.Pos, role.Name, err)
	}
	if !ok {
		h.r.report(Event{Kind: EvRoleSkip, Host: h.inv.Name, Role: role.Name})
		return nil, nil
	}
	return x, nil
}

// scope merges a host's variables, lowest precedence first: inventory
// (group, then host), policy, role, facts, Set and registered, extra-vars.
func (h *hostRun) scope(ws *workerSession, roleVars map[string]any) map[string]any {
	out := map[string]any{}
	maps.Copy(out, h.inv.Vars)
	maps.Copy(out, h.r.policy.Variables)
	maps.Copy(out, roleVars)
	maps.Copy(out, ws.facts)
	out["facts"] = ws.facts
	out["inventory_hostname"] = h.inv.Name
	h.mu.Lock()
	maps.Copy(out, h.vars)
	h.mu.Unlock()
	maps.Copy(out, h.r.opts.ExtraVars)
	return out
}

func resolveVars(vars map[string]any, scope map[string]any) (map[string]any, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	v, err := policy.Resolve(vars, scope)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// setVar sets a host variable. Within a role, call executor.setVar, which
// also drops the executor's merged variables.
func (h *hostRun) setVar(name string, v any) {
	h.mu.Lock()
	h.vars[name] = v
	h.mu.Unlock()
}

// fail records a failure that stopped the role before or outside resources;
// unreachable hosts are reported as such.
func (h *hostRun) fail(role *policy.Role, err error, unreachable bool) {
	h.mu.Lock()
	h.dead = true
	h.stats.Error = err.Error()
	h.stats.Unreachable = h.stats.Unreachable || unreachable
	h.mu.Unlock()
	kind := EvHostDone
	if unreachable {
		kind = EvUnreachabl
	}
	h.r.report(Event{Kind: kind, Host: h.inv.Name, Role: role.Name, Status: protocol.StatusFailed, Error: err.Error()})
}

// isUnreachable tells a host we could not reach (network, SSH, host key)
// from one we reached that refused us: a wrong sudo password is a failure
// to fix on our side, as Ansible counts it, not an unreachable host.
func isUnreachable(err error) bool {
	var se *transport.SudoError
	return !isPolicyError(err) && !errors.As(err, &se)
}

func isPolicyError(err error) bool {
	var pe *PolicyError
	return errors.As(err, &pe)
}

func (h *hostRun) isDead() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dead
}

func (h *hostRun) setDead() {
	h.mu.Lock()
	h.dead = true
	h.mu.Unlock()
}

func (h *hostRun) markStarted() {
	h.mu.Lock()
	if h.started.IsZero() {
		h.started = time.Now()
	}
	h.mu.Unlock()
}

func (h *hostRun) markDuration() {
	h.mu.Lock()
	h.stats.Duration = time.Since(h.started)
	h.mu.Unlock()
}
