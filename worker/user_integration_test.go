package worker

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// freeID returns an id from start up that neither passwd nor group uses.
func freeID(t *testing.T, start int) int {
	for id := start; id < start+1000; id++ {
		s := strconv.Itoa(id)
		if exec.Command("getent", "passwd", s).Run() != nil && exec.Command("getent", "group", s).Run() != nil &&
			exec.Command("getent", "passwd", strconv.Itoa(id+1)).Run() != nil && exec.Command("getent", "group", strconv.Itoa(id+1)).Run() != nil {
			return id
		}
	}
	t.Fatalf("no free id from %d", start)
	return 0
}

// getent returns the entry's fields, or nil when there is none.
func getent(db, key string) []string {
	out, err := exec.Command("getent", db, key).Output()
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), ":")
}

func TestUserGroupIntegration(t *testing.T) {
	sysRequireRoot(t, "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "getent")
	const user, prim, supp = "opsmop-t1", "opsmop-t1g", "opsmop-t1s"
	for _, n := range []struct{ db, name string }{{"passwd", user}, {"group", prim}, {"group", supp}} {
		if getent(n.db, n.name) != nil {
			t.Fatalf("%s %s already exists; remove it before running this test", n.db, n.name)
		}
	}
	t.Cleanup(func() {
		exec.Command("userdel", user).Run()
		os.RemoveAll("/home/" + user)
		exec.Command("groupdel", prim).Run()
		exec.Command("groupdel", supp).Run()
	})
	ctx := context.Background()
	env := &Env{}
	check := &Env{Check: true}
	gid := freeID(t, 47100)

	// Groups: create (check mode first: nothing happens), idempotent, modify gid.
	g := sysBuild(t, "group", prim, map[string]any{"gid": gid})
	if plan, err := g.Plan(ctx, check); err != nil || !reflect.DeepEqual(plan, []string{"create"}) || getent("group", prim) != nil {
		t.Fatalf("check plan = %q, %v; group exists: %v", plan, err, getent("group", prim) != nil)
	}
	sysPlanApply(t, env, g, "create")
	if f := getent("group", prim); f == nil || f[2] != strconv.Itoa(gid) {
		t.Fatalf("group after create: %q", f)
	}
	sysPlanApply(t, env, g)
	sysPlanApply(t, env, sysBuild(t, "group", prim, map[string]any{"gid": gid + 1}), "modify gid")
	if f := getent("group", prim); f[2] != strconv.Itoa(gid+1) {
		t.Fatalf("gid after modify: %q", f)
	}
	sysPlanApply(t, env, sysBuild(t, "group", supp, map[string]any{"system": true}), "create")

	// User: create with every attribute, then modify only what differs.
	uid := freeID(t, 47200)
	want := map[string]any{"uid": uid, "group": prim, "groups": []any{supp}, "shell": "/bin/sh", "home": "/home/" + user}
	u := sysBuild(t, "user", user, want)
	if plan, _ := u.Plan(ctx, check); !reflect.DeepEqual(plan, []string{"create"}) || getent("passwd", user) != nil {
		t.Fatalf("check plan = %q; user exists: %v", plan, getent("passwd", user) != nil)
	}
	sysPlanApply(t, env, u, "create")
	f := getent("passwd", user)
	if f == nil || f[2] != strconv.Itoa(uid) || f[3] != strconv.Itoa(gid+1) || f[5] != "/home/"+user || f[6] != "/bin/sh" {
		t.Fatalf("passwd after create: %q", f)
	}
	if got := sysSh(t, "id -Gn "+user); got != prim+" "+supp {
		t.Fatalf("id -Gn = %q, want %q", got, prim+" "+supp)
	}
	sysPlanApply(t, env, u)

	mod := sysBuild(t, "user", user, map[string]any{"uid": uid + 1, "groups": []any{}, "shell": "/bin/bash", "home": "/home/" + user})
	if plan, _ := mod.Plan(ctx, check); !reflect.DeepEqual(plan, []string{"modify uid", "modify groups", "modify shell"}) {
		t.Fatalf("modify plan = %q", plan)
	}
	if f := getent("passwd", user); f[6] != "/bin/sh" {
		t.Fatalf("check mode changed the user: %q", f)
	}
	sysPlanApply(t, env, mod, "modify uid", "modify groups", "modify shell")
	f = getent("passwd", user)
	if f[2] != strconv.Itoa(uid+1) || f[6] != "/bin/bash" || f[3] != strconv.Itoa(gid+1) {
		t.Fatalf("passwd after modify: %q", f)
	}
	if got := sysSh(t, "id -Gn "+user); got != prim {
		t.Fatalf("id -Gn after modify = %q, want only %q", got, prim)
	}
	sysPlanApply(t, env, mod)
	sysPlanApply(t, env, sysBuild(t, "user", user, map[string]any{"group": strconv.Itoa(gid + 1)}))

	// Remove everything; removing again plans nothing.
	for _, r := range []struct{ typ, name string }{{"user", user}, {"group", prim}, {"group", supp}} {
		rm := sysBuild(t, r.typ, r.name, map[string]any{"absent": true})
		sysPlanApply(t, env, rm, "remove")
		sysPlanApply(t, env, rm)
	}
	if getent("passwd", user) != nil || getent("group", prim) != nil || getent("group", supp) != nil {
		t.Fatal("user or group still exists after remove")
	}
}
