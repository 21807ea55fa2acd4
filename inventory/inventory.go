package inventory

import (
	"fmt"
	"path"
	"slices"
)

// AllGroup is the implicit group every host belongs to.
const AllGroup = "all"

// Host is one machine in an inventory.
//
// Hosts are shared between an inventory and the inventories Filter and
// Limit derive from it: treat them as read-only.
type Host struct {
	Name string
	// Groups are the groups the host is listed in, in file order. The
	// implicit group "all" is not listed.
	Groups []string
	// Vars are the group variables merged in file order ("all" first), then
	// the host's own: its "k=v" strings (string values) and then its
	// [hosts.NAME.vars] table (typed values). Later sources win.
	Vars map[string]any
}

// Inventory is an ordered set of hosts.
type Inventory struct {
	hosts  []*Host
	groups []string // explicit groups in file order, "all" excluded
}

// Hosts returns the hosts in the order they first appear in the file.
func (inv *Inventory) Hosts() []*Host {
	if inv == nil {
		return nil
	}
	return slices.Clone(inv.hosts)
}

// Groups returns the names of the groups that have at least one host of
// this inventory, in file order. "all" is not listed.
func (inv *Inventory) Groups() []string {
	if inv == nil {
		return nil
	}
	return slices.Clone(inv.groups)
}

// Filter returns the hosts that are in a group matching one of groups and
// whose name matches one of hosts. Patterns use path.Match syntax (*, ?,
// [a-z], \ escapes), which is what fnmatch users expect, and must match the
// whole name. An empty list matches everything; the pattern "all" (or "*")
// picks every host. A malformed pattern is an error, even when another
// pattern matched, so typos are not silently ignored.
func (inv *Inventory) Filter(groups, hosts []string) (*Inventory, error) {
	for _, p := range append(slices.Clone(groups), hosts...) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	out := &Inventory{}
	if inv == nil {
		return out, nil
	}
	for _, h := range inv.hosts {
		if !matchAny(hosts, h.Name) {
			continue
		}
		if len(groups) > 0 && !matchAny(groups, AllGroup) && !slices.ContainsFunc(h.Groups, func(g string) bool { return matchAny(groups, g) }) {
			continue
		}
		out.hosts = append(out.hosts, h)
	}
	for _, g := range inv.groups {
		if slices.ContainsFunc(out.hosts, func(h *Host) bool { return slices.Contains(h.Groups, g) }) {
			out.groups = append(out.groups, g)
		}
	}
	return out, nil
}

// Limit narrows an inventory further, for --limit-groups and --limit-hosts.
// It has Filter's semantics; group patterns match every group a host is
// in, not only the groups an earlier Filter picked.
func (inv *Inventory) Limit(groups, hosts []string) (*Inventory, error) {
	return inv.Filter(groups, hosts)
}

// matchAny reports whether name matches one of patterns; no patterns
// match everything. Patterns have been validated already.
func matchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
