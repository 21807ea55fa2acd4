package worker

import (
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// TestSystemResourceBuildErrors: bad names and contradictory parameters are
// refused by Build, before anything runs, with an error naming the resource.
func TestSystemResourceBuildErrors(t *testing.T) {
	tests := []struct {
		name, typ, res string
		params         map[string]any
		want           string
	}{
		{"package option name", "package", "-y", nil, `package "-y": invalid package name`},
		{"package bad version", "package", "hello", map[string]any{"version": "1 2"}, "invalid version"},
		{"package version and latest", "package", "hello", map[string]any{"version": "1", "latest": true}, "contradict"},
		{"package absent and latest", "package", "hello", map[string]any{"absent": true, "latest": true}, "absent=True cannot"},
		{"package unknown method", "package", "hello", map[string]any{"method": "brew"}, `unknown method "brew"`},
		{"package apt rules", "package", "Hello", map[string]any{"method": "apt"}, "invalid package name"},
		{"package wrong type", "package", "hello", map[string]any{"latest": "yes"}, `"latest" must be True or False`},
		{"package unknown param", "package", "hello", map[string]any{"lastest": true}, `unknown parameter "lastest"`},
		{"service slash", "service", "../x", nil, `service "../x": invalid service name`},
		{"service restarted stopped", "service", "nginx", map[string]any{"restarted": true, "started": false}, "contradict"},
		{"service unknown method", "service", "nginx", map[string]any{"method": "upstart"}, "unknown method"},
		{"user bad name", "user", "1x", nil, `user "1x": invalid user name`},
		{"user bad group", "user", "u", map[string]any{"group": "a b"}, "invalid group name"},
		{"user bad groups", "user", "u", map[string]any{"groups": []any{"ok", "-x"}}, "groups: invalid group name"},
		{"user relative home", "user", "u", map[string]any{"home": "home/u"}, "absolute path"},
		{"user colon shell", "user", "u", map[string]any{"shell": "/bin/sh:x"}, "absolute path"},
		{"user negative uid", "user", "u", map[string]any{"uid": -5}, "out of range"},
		{"group bad name", "group", "a:b", nil, `group "a:b": invalid group name`},
		{"group bad gid", "group", "g", map[string]any{"gid": "x"}, `"gid" must be an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(protocol.Resource{Type: tc.typ, Name: tc.res, Params: tc.params})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestGroupSet(t *testing.T) {
	got := groupSet([]string{"b", "prim", "a", "b"}, "prim", "")
	if strings.Join(got, ",") != "a,b" {
		t.Fatalf("groupSet = %v, want [a b]", got)
	}
}

func TestVersionMatches(t *testing.T) {
	tests := []struct {
		inst, want string
		ok         bool
	}{
		{"2.10-3", "2.10-3", true},
		{"2.10-3", "2.10", true},
		{"2.10-3", "2.1", false},
		{"2.12.1-r0", "2.12.1", true},
		{"1:2.0-1", "2.0", false},
	}
	for _, tc := range tests {
		if got := versionMatches(tc.inst, tc.want); got != tc.ok {
			t.Errorf("versionMatches(%q, %q) = %v, want %v", tc.inst, tc.want, got, tc.ok)
		}
	}
}
