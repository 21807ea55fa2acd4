package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("group", newGroup) }

// Group is the Group resource: a local group, or its absence. Plan actions:
// "create", "modify gid" or "remove".
type Group struct {
	name   string
	gid    int64 // -1: not given
	system bool
	absent bool
}

func newGroup(name string, p Params) (Resource, error) {
	r := &Group{name: name}
	rd := p.reader()
	r.gid = rd.Int("gid", -1)
	r.system = rd.Bool("system", false)
	r.absent = rd.Bool("absent", false)
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if err := ValidateGroupName(name); err != nil {
		return nil, fmt.Errorf("group %q: %w", name, err)
	}
	if p.Has("gid") && (r.gid < 0 || r.gid > 1<<32-2) {
		return nil, fmt.Errorf("group %q: gid %d out of range", name, r.gid)
	}
	return r, nil
}

type groupEntry struct{ gid string }

func getentGroup(ctx context.Context, env *Env, name string) (*groupEntry, error) {
	res, err := query(ctx, env, "getent", "group", name)
	if err != nil {
		return nil, err
	}
	if res.RC == 2 {
		return nil, nil
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("getent group %s: exit status %d", name, res.RC)
	}
	f := strings.Split(firstLine(res.Stdout), ":")
	if len(f) != 4 {
		return nil, fmt.Errorf("getent group %s: malformed entry", name)
	}
	return &groupEntry{gid: f[2]}, nil
}

// Plan compares the group database with the wanted group.
func (r *Group) Plan(ctx context.Context, env *Env) ([]string, error) {
	cur, err := getentGroup(ctx, env, r.name)
	if err != nil {
		return nil, fmt.Errorf("group %q: query: %w", r.name, err)
	}
	switch {
	case r.absent && cur == nil:
		return nil, nil
	case r.absent:
		return []string{"remove"}, nil
	case cur == nil:
		return []string{"create"}, nil
	case r.gid >= 0 && cur.gid != strconv.FormatInt(r.gid, 10):
		return []string{"modify gid"}, nil
	}
	return nil, nil
}

// Apply runs exactly the planned actions.
func (r *Group) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	a := newApplier(ctx, env, plan)
	for _, act := range plan {
		var argv []string
		switch act {
		case "create":
			argv = []string{"groupadd"}
			if r.system {
				argv = append(argv, "-r")
			}
			if r.gid >= 0 {
				argv = append(argv, "-g", strconv.FormatInt(r.gid, 10))
			}
			argv = append(argv, r.name)
		case "modify gid":
			argv = []string{"groupmod", "-g", strconv.FormatInt(r.gid, 10), r.name}
		case "remove":
			argv = []string{"groupdel", r.name}
		default:
			return a.result(unknownAction("group", act))
		}
		if err := a.run(nil, argv...); err != nil {
			return a.result(fmt.Errorf("group %q: %s: %w", r.name, act, err))
		}
	}
	return a.result(nil)
}
