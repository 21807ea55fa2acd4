package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("package", newPackage) }

// Package is the Package resource: a package installed (at a version, or the
// latest the repositories offer) or absent. Plan actions, in order:
// "update cache" (only with update_cache=True, and only when something is
// to be installed or upgraded), then one of "install", "upgrade", "remove".
type Package struct {
	name        string
	version     string
	latest      bool
	absent      bool
	updateCache bool
	method      string // "" until chosen from facts
}

func newPackage(name string, p Params) (Resource, error) {
	r := &Package{name: name}
	rd := p.reader()
	r.version = rd.String("version", "")
	r.latest = rd.Bool("latest", false)
	r.absent = rd.Bool("absent", false)
	r.updateCache = rd.Bool("update_cache", false)
	r.method = rd.String("method", "")
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("package %q: %w", name, err)
	}
	return r, nil
}

func (r *Package) validate() error {
	if r.method != "" {
		if _, ok := packageProviders[r.method]; !ok {
			return fmt.Errorf("unknown method %q (want apt, dnf, yum or apk)", r.method)
		}
	}
	if err := ValidatePackageName(r.method, r.name); err != nil {
		return err
	}
	if r.version != "" {
		if err := ValidateVersion(r.version); err != nil {
			return err
		}
	}
	switch {
	case r.version != "" && r.latest:
		return errors.New("version= and latest=True contradict each other")
	case r.absent && (r.version != "" || r.latest):
		return errors.New("absent=True cannot be combined with version= or latest=True")
	}
	return nil
}

// provider resolves the method (from the package_manager fact when not
// given) and checks the name against that format's rules before any
// command runs.
func (r *Package) provider(ctx context.Context, env *Env) (pkgProvider, error) {
	method := r.method
	if method == "" {
		m, err := envFact(ctx, env, "package_manager")
		if err != nil {
			return nil, fmt.Errorf("package %q: %w", r.name, err)
		}
		if m == "" {
			return nil, fmt.Errorf("package %q: no supported package manager found on this host; set method=", r.name)
		}
		method = m
	}
	prov, ok := packageProviders[method]
	if !ok {
		return nil, fmt.Errorf("package %q: unsupported package manager %q", r.name, method)
	}
	if err := ValidatePackageName(method, r.name); err != nil {
		return nil, fmt.Errorf("package %q: %w", r.name, err)
	}
	return prov, nil
}

// Plan queries the package database; it never installs or refreshes.
func (r *Package) Plan(ctx context.Context, env *Env) ([]string, error) {
	prov, err := r.provider(ctx, env)
	if err != nil {
		return nil, err
	}
	inst, err := prov.installed(ctx, env, r.name)
	if err != nil {
		return nil, fmt.Errorf("package %q: query: %w", r.name, err)
	}
	if r.absent {
		if inst.present {
			return []string{"remove"}, nil
		}
		return nil, nil
	}
	var act string
	switch {
	case !inst.present:
		act = "install"
	case r.version != "" && !versionMatches(inst.version, r.version):
		act = "upgrade"
	case r.latest:
		up, err := prov.upgradable(ctx, env, r.name, inst.version)
		if err != nil {
			return nil, fmt.Errorf("package %q: query: %w", r.name, err)
		}
		if up {
			act = "upgrade"
		}
	}
	switch {
	case act == "":
		return nil, nil
	case r.updateCache:
		return []string{"update cache", act}, nil
	}
	return []string{act}, nil
}

// Apply runs exactly the planned actions, then drops cached facts, since
// installed software is what facts describe.
func (r *Package) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	prov, err := r.provider(ctx, env)
	if err != nil {
		return nil, err
	}
	a := newApplier(ctx, env, plan)
	defer invalidateFacts(env)
	for _, act := range plan {
		var argv []string
		switch act {
		case "update cache":
			argv = prov.updateCache()
		case "install":
			argv = prov.install(r.name, r.version)
		case "upgrade":
			if r.version != "" {
				argv = prov.install(r.name, r.version)
			} else {
				argv = prov.upgrade(r.name)
			}
		case "remove":
			argv = prov.remove(r.name)
		default:
			return a.result(unknownAction("package", act))
		}
		if err := a.run(prov.env(), argv...); err != nil {
			return a.result(fmt.Errorf("package %q: %s: %w", r.name, act, err))
		}
	}
	return a.result(nil)
}

// versionMatches accepts an exact version, or one given without its
// release/revision suffix ("2.10" matches "2.10-3", "1.2" matches
// "1.2-r0").
func versionMatches(installed, want string) bool {
	return installed == want || strings.HasPrefix(installed, want+"-")
}
