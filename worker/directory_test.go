package worker

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

func TestDirectory(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string)
		params   map[string]any
		wantPlan []string
		check    func(t *testing.T, path string)
	}{
		{
			name:     "create with parents and mode",
			params:   map[string]any{"mode": int64(0o750)},
			wantPlan: []string{"create"},
			check: func(t *testing.T, path string) {
				if m := mode(t, path); m != 0o750 {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:     "chmod existing",
			setup:    mkdir(0o755),
			params:   map[string]any{"mode": "0700"},
			wantPlan: []string{"chmod"},
			check: func(t *testing.T, path string) {
				if m := mode(t, path); m != 0o700 {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:     "sticky bit",
			setup:    mkdir(0o777),
			params:   map[string]any{"mode": int64(0o1777)},
			wantPlan: []string{"chmod"},
			check: func(t *testing.T, path string) {
				if m := mode(t, path); m != 0o777|os.ModeSticky {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:     "already right",
			setup:    mkdir(0o755),
			params:   map[string]any{"mode": int64(0o755)},
			wantPlan: nil,
		},
		{
			name:     "recursive owner reaches below",
			setup:    mkdirWithFile(0o755),
			params:   map[string]any{"owner": "4242", "group": "4343", "recursive": true},
			wantPlan: []string{"chown", "chgrp"},
			check: func(t *testing.T, path string) {
				fi, err := os.Lstat(filepath.Join(path, "sub", "f"))
				if err != nil {
					t.Fatal(err)
				}
				if uid, gid := statIDs(fi); uid != 4242 || gid != 4343 {
					t.Errorf("nested file owned by %d:%d", uid, gid)
				}
			},
		},
		{
			name:     "remove empty",
			setup:    mkdir(0o755),
			params:   map[string]any{"absent": true},
			wantPlan: []string{"delete"},
			check:    gone,
		},
		{
			name:     "remove tree when recursive",
			setup:    mkdirWithFile(0o755),
			params:   map[string]any{"absent": true, "recursive": true},
			wantPlan: []string{"delete"},
			check:    gone,
		},
		{
			name:     "absent and missing",
			params:   map[string]any{"absent": true},
			wantPlan: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needRoot(t, tt.params)
			root := t.TempDir()
			path := filepath.Join(root, "a", "b")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			before := snapshot(t, root)
			_, res := converge(t, &Env{Check: true}, build(t, "directory", path, tt.params))
			if res.Failed || !slices.Equal(res.Actions, tt.wantPlan) {
				t.Fatalf("check: %+v, want plan %q", res, tt.wantPlan)
			}
			if after := snapshot(t, root); after != before {
				t.Fatalf("check mode changed something:\n%s\n%s", before, after)
			}
			_, res = converge(t, &Env{}, build(t, "directory", path, tt.params))
			if res.Failed || !slices.Equal(res.Actions, tt.wantPlan) {
				t.Fatalf("apply: %+v", res)
			}
			if tt.check != nil {
				tt.check(t, path)
			}
			_, res = converge(t, &Env{}, build(t, "directory", path, tt.params))
			if len(res.Actions) != 0 {
				t.Fatalf("second apply not idempotent: %+v", res)
			}
		})
	}
}

func mkdir(perm os.FileMode) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdirWithFile(perm os.FileMode) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		mkdir(perm)(t, filepath.Join(path, "sub"))
		existingFile("x", 0o644)(t, filepath.Join(path, "sub", "f"))
	}
}

func gone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", path, err)
	}
}

func TestDirectoryErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	existingFile("x", 0o644)(t, file)
	full := filepath.Join(root, "full")
	mkdirWithFile(0o755)(t, full)
	tests := []struct {
		name   string
		path   string
		params map[string]any
		want   string
	}{
		{"file in the way", file, map[string]any{}, "exists and is not a directory"},
		{"not empty without recursive", full, map[string]any{"absent": true}, "is not empty; set recursive=True"},
		{"unknown group", full, map[string]any{"group": "no-such-group-opsmop"}, `group "no-such-group-opsmop"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := converge(t, &Env{}, build(t, "directory", tt.path, tt.params))
			if !res.Failed || !strings.Contains(res.Msg, tt.want) {
				t.Fatalf("got %+v, want failure containing %q", res, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(full, "sub", "f")); err != nil {
		t.Fatalf("a failed plan removed content: %v", err)
	}
}

func TestDirectoryParamErrors(t *testing.T) {
	tests := []struct {
		name, path string
		params     map[string]any
		want       string
	}{
		{"unknown parameter", "/tmp/d", map[string]any{"recurse": true}, `directory: unknown parameter "recurse"`},
		{"recursive wrong type", "/tmp/d", map[string]any{"recursive": "yes"}, `"recursive" must be True or False`},
		{"remove root", "/", map[string]any{"absent": true, "recursive": true}, "refusing to remove the root directory"},
		{"empty name", "", map[string]any{}, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(protocol.Resource{Type: "directory", Name: tt.path, Params: tt.params})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
