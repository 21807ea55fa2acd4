package worker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("user", newUser) }

// User is the User resource: a local account with the given attributes, or
// absent. Plan actions: "create"; or any of "modify uid", "modify group",
// "modify groups", "modify home", "modify shell" (applied together by one
// usermod carrying only the differing flags); or "remove". Attributes that
// are not given are left as they are; groups= is the exact list of
// supplementary groups.
type User struct {
	name      string
	uid       int64 // -1: not given
	group     string
	groups    []string
	hasGroups bool
	home      string
	shell     string
	system    bool
	absent    bool
}

func newUser(name string, p Params) (Resource, error) {
	r := &User{name: name}
	rd := p.reader()
	r.uid = rd.Int("uid", -1)
	r.group = rd.String("group", "")
	r.hasGroups = p.Has("groups")
	r.groups = rd.Strings("groups")
	r.home = rd.String("home", "")
	r.shell = rd.String("shell", "")
	r.system = rd.Bool("system", false)
	r.absent = rd.Bool("absent", false)
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if err := r.validate(p.Has("uid")); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return r, nil
}

func (r *User) validate(uidGiven bool) error {
	if err := ValidateUserName(r.name); err != nil {
		return err
	}
	if uidGiven && (r.uid < 0 || r.uid > 1<<32-2) {
		return fmt.Errorf("uid %d out of range", r.uid)
	}
	if r.group != "" && !isID(r.group) {
		if err := ValidateGroupName(r.group); err != nil {
			return err
		}
	}
	for _, g := range r.groups {
		if err := ValidateGroupName(g); err != nil {
			return fmt.Errorf("groups: %w", err)
		}
	}
	for _, f := range []struct{ key, path string }{{"home", r.home}, {"shell", r.shell}} {
		if f.path != "" && (!strings.HasPrefix(f.path, "/") || strings.ContainsAny(f.path, ":\n\x00")) {
			return fmt.Errorf("%s %q must be an absolute path without ':' or newlines", f.key, f.path)
		}
	}
	return nil
}

func isID(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// passwdEntry is one getent passwd line.
type passwdEntry struct {
	uid, gid    string
	home, shell string
}

func getentPasswd(ctx context.Context, env *Env, name string) (*passwdEntry, error) {
	res, err := query(ctx, env, "getent", "passwd", name)
	if err != nil {
		return nil, err
	}
	if res.RC == 2 { // no such key
		return nil, nil
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("getent passwd %s: exit status %d", name, res.RC)
	}
	f := strings.Split(firstLine(res.Stdout), ":")
	if len(f) != 7 {
		return nil, fmt.Errorf("getent passwd %s: malformed entry", name)
	}
	return &passwdEntry{uid: f[2], gid: f[3], home: f[5], shell: f[6]}, nil
}

// Plan compares the account database with the wanted attributes.
func (r *User) Plan(ctx context.Context, env *Env) ([]string, error) {
	cur, err := getentPasswd(ctx, env, r.name)
	if err != nil {
		return nil, fmt.Errorf("user %q: query: %w", r.name, err)
	}
	switch {
	case r.absent && cur == nil:
		return nil, nil
	case r.absent:
		return []string{"remove"}, nil
	case cur == nil:
		return []string{"create"}, nil
	}
	var plan []string
	if r.uid >= 0 && cur.uid != strconv.FormatInt(r.uid, 10) {
		plan = append(plan, "modify uid")
	}
	if r.group != "" {
		same, err := r.sameGroup(ctx, env, cur.gid)
		if err != nil {
			return nil, fmt.Errorf("user %q: query: %w", r.name, err)
		}
		if !same {
			plan = append(plan, "modify group")
		}
	}
	if r.hasGroups {
		same, err := r.sameGroups(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("user %q: query: %w", r.name, err)
		}
		if !same {
			plan = append(plan, "modify groups")
		}
	}
	if r.home != "" && cur.home != r.home {
		plan = append(plan, "modify home")
	}
	if r.shell != "" && cur.shell != r.shell {
		plan = append(plan, "modify shell")
	}
	return plan, nil
}

// sameGroup reports whether the primary group gid is r.group (a name or a
// gid). A group that does not exist yet differs.
func (r *User) sameGroup(ctx context.Context, env *Env, gid string) (bool, error) {
	if isID(r.group) {
		return r.group == gid, nil
	}
	g, err := getentGroup(ctx, env, r.group)
	if err != nil || g == nil {
		return false, err
	}
	return g.gid == gid, nil
}

// sameGroups compares the supplementary groups (id -Gn minus the primary
// group) with groups=, ignoring order and a mention of the primary group.
func (r *User) sameGroups(ctx context.Context, env *Env) (bool, error) {
	all, err := query(ctx, env, "id", "-Gn", r.name)
	if err != nil {
		return false, err
	}
	prim, err := query(ctx, env, "id", "-gn", r.name)
	if err != nil {
		return false, err
	}
	if all.RC != 0 || prim.RC != 0 {
		return false, fmt.Errorf("id %s: %s", r.name, lastLine(all.Stderr+prim.Stderr))
	}
	primary := strings.TrimSpace(prim.Stdout)
	want := groupSet(r.groups, primary, r.group)
	have := groupSet(strings.Fields(all.Stdout), primary, r.group)
	return strings.Join(want, ",") == strings.Join(have, ","), nil
}

// groupSet sorts and dedups names, dropping the primary group(s).
func groupSet(names []string, drop ...string) []string {
	seen := map[string]bool{}
	for _, d := range drop {
		seen[d] = true
	}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Apply runs exactly the planned actions.
func (r *User) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	a := newApplier(ctx, env, plan)
	var modify []string
	for _, act := range plan {
		var argv []string
		switch act {
		case "create":
			argv = r.useradd()
		case "remove":
			argv = []string{"userdel", r.name}
		case "modify uid", "modify group", "modify groups", "modify home", "modify shell":
			modify = append(modify, act)
			continue
		default:
			return a.result(unknownAction("user", act))
		}
		if err := a.run(nil, argv...); err != nil {
			return a.result(fmt.Errorf("user %q: %s: %w", r.name, act, err))
		}
	}
	if len(modify) > 0 {
		if err := a.run(nil, r.usermod(modify)...); err != nil {
			return a.result(fmt.Errorf("user %q: modify: %w", r.name, err))
		}
	}
	return a.result(nil)
}

func (r *User) useradd() []string {
	argv := []string{"useradd"}
	if r.system {
		argv = append(argv, "-r")
	} else {
		argv = append(argv, "-m") // a login user gets a home directory
	}
	argv = append(argv, r.flags([]string{"modify uid", "modify group", "modify groups", "modify home", "modify shell"})...)
	return append(argv, r.name)
}

func (r *User) usermod(modify []string) []string {
	return append(append([]string{"usermod"}, r.flags(modify)...), r.name)
}

// flags returns the useradd/usermod options for the given attributes, only
// for those that were set.
func (r *User) flags(attrs []string) []string {
	var argv []string
	for _, a := range attrs {
		switch {
		case a == "modify uid" && r.uid >= 0:
			argv = append(argv, "-u", strconv.FormatInt(r.uid, 10))
		case a == "modify group" && r.group != "":
			argv = append(argv, "-g", r.group)
		case a == "modify groups" && r.hasGroups:
			argv = append(argv, "-G", strings.Join(r.groups, ","))
		case a == "modify home" && r.home != "":
			argv = append(argv, "-d", r.home)
		case a == "modify shell" && r.shell != "":
			argv = append(argv, "-s", r.shell)
		}
	}
	return argv
}
