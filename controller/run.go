package controller

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opsmop/opsmop/inventory"
	"github.com/opsmop/opsmop/policy"
)

// Options say what to run and how.
type Options struct {
	PolicyPath string
	Check      bool
	Diff       bool
	ExtraVars  map[string]any
	Tags       []string
	SkipTags   []string

	// Push runs each role on the hosts of its inventory; otherwise every
	// role runs on this machine through a local worker.
	Push        bool
	LimitGroups []string
	LimitHosts  []string
	Forks       int // hosts in flight at once; 0 means all of a batch
	// OpenFiles is the process's open-file limit; a fleet that needs more
	// connections than it allows is refused before any host is touched.
	OpenFiles int
	Defaults  *inventory.Defaults
	// AskedSSHPassword and AskedSudoPassword come from --ask-pass and
	// --ask-become-pass and apply to every host.
	AskedSSHPassword  *string
	AskedSudoPassword *string

	Reporter Reporter
	Dial     Dialer // how hosts are reached; nil for the default
}

// Run evaluates the policy and runs it. It returns the Summary together with
// ErrHostsFailed when hosts failed, or a *PolicyError when nothing could run.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	start := time.Now()
	p, err := policy.Load(opts.PolicyPath)
	if err != nil {
		return nil, &PolicyError{Err: err}
	}
	r := newRunner(p, opts)
	defer r.closeAll()
	r.report(Event{Kind: EvRunStart, Check: opts.Check})
	if err := r.runRoles(ctx); err != nil {
		return nil, err
	}
	sum := r.summary(time.Since(start))
	r.report(Event{Kind: EvRunDone, Check: opts.Check, Summary: sum})
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if err := r.policyError(); err != nil {
		return sum, err
	}
	if sum.Failed() {
		return sum, ErrHostsFailed
	}
	return sum, nil
}

// runner holds the state of one run shared by all hosts.
type runner struct {
	policy  *policy.Policy
	opts    Options
	content *contentStore
	dial    Dialer
	rep     Reporter

	mu    sync.Mutex
	hosts map[string]*hostRun
	order []string
	files map[string][]byte
	// lastRole is the last role each host runs; its connection closes after it.
	lastRole map[string]*policy.Role
	// roleHosts are each role's hosts, in policy order, resolved once.
	roleHosts [][]*inventory.Host
	aborted   string
}

func newRunner(p *policy.Policy, opts Options) *runner {
	rep := opts.Reporter
	if rep == nil {
		rep = ReporterFunc(func(Event) {})
	}
	dial := opts.Dial
	if dial == nil {
		dial = DefaultDialer(io.Discard)
	}
	return &runner{policy: p, opts: opts, content: newContentStore(), dial: dial, rep: rep, hosts: map[string]*hostRun{}, files: map[string][]byte{}}
}

func (r *runner) report(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.rep.Report(e)
}

func (r *runner) runRoles(ctx context.Context) error {
	if err := r.planHosts(); err != nil {
		return err
	}
	for i, role := range r.policy.Roles {
		if err := r.runRole(ctx, role, r.roleHosts[i]); err != nil {
			return err
		}
		if r.aborted != "" || ctx.Err() != nil {
			break
		}
	}
	return nil
}

// targets lists the hosts a role runs on: this machine in local mode, the
// role's inventory (narrowed by --limit-*) in push mode.
func (r *runner) targets(role *policy.Role) ([]*inventory.Host, error) {
	if !r.opts.Push {
		return []*inventory.Host{localHost()}, nil
	}
	if role.Inventory == nil {
		return nil, policyErr("%s: role %q has no inventory: push mode needs inventory=TomlInventory(...)", role.Pos, role.Name)
	}
	inv, err := role.Inventory.Limit(r.opts.LimitGroups, r.opts.LimitHosts)
	if err != nil {
		return nil, &PolicyError{Err: fmt.Errorf("apply --limit-groups/--limit-hosts: %w", err)}
	}
	return inv.Hosts(), nil
}

func localHost() *inventory.Host {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "localhost"
	}
	return &inventory.Host{Name: name, Vars: map[string]any{"opsmop_connection": "local"}}
}

// host returns the run state of a host, creating it on first use so that one
// connection serves every role.
func (r *runner) host(h *inventory.Host) *hostRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hr, ok := r.hosts[h.Name]; ok {
		return hr
	}
	hr := newHostRun(r, h)
	r.hosts[h.Name] = hr
	r.order = append(r.order, h.Name)
	return hr
}

// closeAll closes every host's sessions in parallel: each close waits a
// round trip for the worker to exit.
func (r *runner) closeAll() {
	var wg sync.WaitGroup
	for _, name := range r.order {
		wg.Add(1)
		go func(h *hostRun) {
			defer wg.Done()
			h.close()
		}(r.hosts[name])
	}
	wg.Wait()
}

func (r *runner) summary(elapsed time.Duration) *Summary {
	s := &Summary{Check: r.opts.Check, Elapsed: elapsed, Aborted: r.aborted}
	for _, name := range r.order {
		hr := r.hosts[name]
		s.Hosts = append(s.Hosts, HostSummary{Name: name, HostStats: hr.statsSnapshot()})
	}
	return s
}

// readFile reads a file of the policy's folder once per run.
func (r *runner) readFile(rel string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if data, ok := r.files[rel]; ok {
		return data, nil
	}
	data, err := r.policy.ReadFile(rel)
	if err != nil {
		return nil, err
	}
	r.files[rel] = data
	return data, nil
}

// filesPerHost is what one host in flight holds open: its connection, with
// headroom for the local-worker pipes and files being read.
const filesPerHost, filesReserved = 1, 64

// planHosts resolves each role's hosts once and finds each host's last role,
// so that its connection closes as
// soon as it is done rather than when the whole fleet is, and refuses a
// fleet that cannot fit the open-file limit.
func (r *runner) planHosts() error {
	r.lastRole = map[string]*policy.Role{}
	for _, role := range r.policy.Roles {
		targets, err := r.targets(role)
		if err != nil {
			return err
		}
		r.roleHosts = append(r.roleHosts, targets)
		for _, h := range targets {
			r.lastRole[h.Name] = role
		}
	}
	if r.opts.Push && len(r.lastRole) == 0 {
		// A typo in --limit-hosts must not pass for a successful run.
		return policyErr("no host matched: the roles' inventories, narrowed by --limit-groups %q and --limit-hosts %q, select no host",
			r.opts.LimitGroups, r.opts.LimitHosts)
	}
	return r.checkOpenFiles(len(r.lastRole))
}

// checkOpenFiles refuses a fleet that cannot fit the open-file limit.
func (r *runner) checkOpenFiles(hosts int) error {
	if r.opts.OpenFiles <= 0 || !r.opts.Push {
		return nil
	}
	need := hosts*filesPerHost + filesReserved
	if need > r.opts.OpenFiles {
		return policyErr("the fleet of %d hosts needs about %d open files, but the limit is %d: raise the hard limit (ulimit -Hn, or LimitNOFILE) or use --limit-hosts",
			hosts, need, r.opts.OpenFiles)
	}
	return nil
}

// policyError returns the first host's policy error, in inventory order.
func (r *runner) policyError() error {
	for _, name := range r.order {
		h := r.hosts[name]
		h.mu.Lock()
		err := h.policyErr
		h.mu.Unlock()
		if err != nil {
			return &PolicyError{Err: fmt.Errorf("host %s: %w", name, err)}
		}
	}
	return nil
}
