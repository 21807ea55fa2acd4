package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("service", newService) }

// Service is the Service resource: a service started or stopped, enabled at
// boot or not, or restarted. Plan actions, in order: one of "start", "stop"
// or "restart", then "enable" or "disable".
//
// restarted=True restarts a running service and starts a stopped one
// (OpsMop's original did nothing on a running service). It is meant for
// handlers: every run with restarted=True plans an action.
type Service struct {
	name      string
	started   *bool // nil: leave running state alone
	enabled   *bool // nil: leave boot state alone
	restarted bool
	method    string // "" until chosen from facts
}

func newService(name string, p Params) (Resource, error) {
	r := &Service{name: name}
	rd := p.reader()
	optBool := func(key string) *bool {
		if !p.Has(key) {
			return nil
		}
		b := rd.Bool(key, false)
		return &b
	}
	r.started = optBool("started")
	r.enabled = optBool("enabled")
	r.restarted = rd.Bool("restarted", false)
	r.method = rd.String("method", "")
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	return r, nil
}

func (r *Service) validate() error {
	if err := ValidateServiceName(r.name); err != nil {
		return err
	}
	if r.method != "" {
		if _, ok := serviceProviders[r.method]; !ok {
			return fmt.Errorf("unknown method %q (want systemd, openrc or sysv)", r.method)
		}
	}
	if r.restarted && r.started != nil && !*r.started {
		return errors.New("restarted=True and started=False contradict each other")
	}
	return nil
}

func (r *Service) provider(ctx context.Context, env *Env) (svcProvider, error) {
	method := r.method
	if method == "" {
		m, err := envFact(ctx, env, "service_manager")
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", r.name, err)
		}
		method = m
	}
	prov, ok := serviceProviders[method]
	if !ok {
		return nil, fmt.Errorf("service %q: unsupported service manager %q", r.name, method)
	}
	return prov, nil
}

// Plan asks the service manager for the service's state; it changes nothing.
func (r *Service) Plan(ctx context.Context, env *Env) ([]string, error) {
	prov, err := r.provider(ctx, env)
	if err != nil {
		return nil, err
	}
	var plan []string
	if r.started != nil || r.restarted {
		running, err := prov.running(ctx, env, r.name)
		if err != nil {
			return nil, fmt.Errorf("service %q: query state: %w", r.name, err)
		}
		switch {
		case r.restarted && running:
			plan = append(plan, "restart")
		case r.restarted || (*r.started && !running):
			plan = append(plan, "start") // a stopped service restarts by starting
		case !*r.started && running:
			plan = append(plan, "stop")
		}
	}
	if r.enabled != nil {
		on, err := prov.isEnabled(ctx, env, r.name)
		if err != nil {
			return nil, fmt.Errorf("service %q: query boot state: %w", r.name, err)
		}
		switch {
		case *r.enabled && !on:
			plan = append(plan, "enable")
		case !*r.enabled && on:
			plan = append(plan, "disable")
		}
	}
	return plan, nil
}

// Apply runs exactly the planned actions.
func (r *Service) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	prov, err := r.provider(ctx, env)
	if err != nil {
		return nil, err
	}
	a := newApplier(ctx, env, plan)
	for _, act := range plan {
		cmds, err := prov.action(ctx, env, act, r.name)
		if err != nil {
			return a.result(fmt.Errorf("service %q: %w", r.name, err))
		}
		for _, argv := range cmds {
			if err := a.run(nil, argv...); err != nil {
				return a.result(fmt.Errorf("service %q: %s: %w", r.name, act, err))
			}
		}
	}
	return a.result(nil)
}
