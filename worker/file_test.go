package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// build makes a resource of typ, failing the test on a parameter error.
func build(t *testing.T, typ, name string, params map[string]any) Resource {
	t.Helper()
	r, err := Build(protocol.Resource{Type: typ, Name: name, Params: params})
	if err != nil {
		t.Fatalf("build %s %q: %v", typ, name, err)
	}
	return r
}

// converge plans and applies r like the server does and returns the plan
// and the result.
func converge(t *testing.T, env *Env, r Resource) ([]string, *protocol.Result) {
	t.Helper()
	res := planApply(context.Background(), env, r)
	return res.Actions, res
}

// leftovers lists temporary files an atomic write left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return permBits(fi.Mode())
}

func TestFile(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string) // prepares the target
		params   map[string]any
		wantPlan []string
		check    func(t *testing.T, path string) // after apply
	}{
		{
			name:     "create with content and mode",
			params:   map[string]any{"content": []byte("hello\n"), "mode": int64(0o600)},
			wantPlan: []string{"create"},
			check: func(t *testing.T, path string) {
				wantContent(t, path, "hello\n")
				if m := mode(t, path); m != 0o600 {
					t.Errorf("mode %v, want 0600", m)
				}
			},
		},
		{
			name:     "create with string mode",
			params:   map[string]any{"content": "x", "mode": "0640"},
			wantPlan: []string{"create"},
			check: func(t *testing.T, path string) {
				if m := mode(t, path); m != 0o640 {
					t.Errorf("mode %v, want 0640", m)
				}
			},
		},
		{
			name:     "create empty without content",
			params:   map[string]any{},
			wantPlan: []string{"create"},
			check:    func(t *testing.T, path string) { wantContent(t, path, "") },
		},
		{
			name:     "rewrite keeps the old mode",
			setup:    existingFile("old\n", 0o640),
			params:   map[string]any{"from_content": "new\n"},
			wantPlan: []string{"write content"},
			check: func(t *testing.T, path string) {
				wantContent(t, path, "new\n")
				if m := mode(t, path); m != 0o640 {
					t.Errorf("mode %v, want 0640 kept", m)
				}
			},
		},
		{
			name:     "content and mode both change",
			setup:    existingFile("old\n", 0o644),
			params:   map[string]any{"content": "new\n", "mode": int64(0o600)},
			wantPlan: []string{"write content", "chmod"},
			check: func(t *testing.T, path string) {
				wantContent(t, path, "new\n")
				if m := mode(t, path); m != 0o600 {
					t.Errorf("mode %v, want 0600", m)
				}
			},
		},
		{
			name:     "chmod only",
			setup:    existingFile("same", 0o644),
			params:   map[string]any{"content": "same", "mode": int64(0o755)},
			wantPlan: []string{"chmod"},
			check: func(t *testing.T, path string) {
				if m := mode(t, path); m != 0o755 {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:     "overwrite false leaves content",
			setup:    existingFile("mine", 0o644),
			params:   map[string]any{"content": "theirs", "overwrite": false},
			wantPlan: nil,
			check:    func(t *testing.T, path string) { wantContent(t, path, "mine") },
		},
		{
			name:     "attributes only on an existing file",
			setup:    existingFile("keep", 0o600),
			params:   map[string]any{"mode": int64(0o644)},
			wantPlan: []string{"chmod"},
			check:    func(t *testing.T, path string) { wantContent(t, path, "keep") },
		},
		{
			name:     "owner by number",
			setup:    existingFile("x", 0o644),
			params:   map[string]any{"owner": "4242", "group": "4343"},
			wantPlan: []string{"chown", "chgrp"},
			check: func(t *testing.T, path string) {
				fi, _ := os.Stat(path)
				if uid, gid := statIDs(fi); uid != 4242 || gid != 4343 {
					t.Errorf("owner %d:%d", uid, gid)
				}
			},
		},
		{
			name:     "new file gets owner",
			params:   map[string]any{"content": "x", "owner": "4242", "mode": int64(0o4755)},
			wantPlan: []string{"create"},
			check: func(t *testing.T, path string) {
				fi, _ := os.Stat(path)
				if uid, _ := statIDs(fi); uid != 4242 {
					t.Errorf("uid %d", uid)
				}
				if m := mode(t, path); m != 0o755|os.ModeSetuid {
					t.Errorf("mode %v, setuid must survive the chown", m)
				}
			},
		},
		{
			name:     "absent removes",
			setup:    existingFile("bye", 0o644),
			params:   map[string]any{"absent": true},
			wantPlan: []string{"delete"},
			check: func(t *testing.T, path string) {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("file still there: %v", err)
				}
			},
		},
		{
			name: "symbolic link manages its target",
			setup: func(t *testing.T, path string) {
				real := filepath.Join(filepath.Dir(path), "real")
				existingFile("old", 0o644)(t, real)
				if err := os.Symlink("real", path); err != nil {
					t.Fatal(err)
				}
			},
			params:   map[string]any{"content": "new"},
			wantPlan: []string{"write content"},
			check: func(t *testing.T, path string) {
				if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Fatalf("link replaced: %v", err)
				}
				wantContent(t, filepath.Join(filepath.Dir(path), "real"), "new")
			},
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
			dir := t.TempDir()
			path := filepath.Join(dir, "target")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			before := snapshot(t, dir)

			// Check mode reports the plan and changes nothing.
			_, res := converge(t, &Env{Check: true}, build(t, "file", path, tt.params))
			if res.Failed || !slices.Equal(res.Actions, tt.wantPlan) {
				t.Fatalf("check: %+v, want plan %q", res, tt.wantPlan)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatalf("check mode changed the directory:\n%s\n%s", before, after)
			}

			_, res = converge(t, &Env{}, build(t, "file", path, tt.params))
			if res.Failed || !slices.Equal(res.Actions, tt.wantPlan) || res.Changed != (len(tt.wantPlan) > 0) {
				t.Fatalf("apply: %+v", res)
			}
			if tt.check != nil {
				tt.check(t, path)
			}
			if l := leftovers(t, dir); len(l) > 0 {
				t.Fatalf("temporary files left: %v", l)
			}

			_, res = converge(t, &Env{}, build(t, "file", path, tt.params))
			if len(res.Actions) != 0 || res.Status != protocol.StatusOK {
				t.Fatalf("second apply not idempotent: %+v", res)
			}
		})
	}
}

// needRoot skips cases that chown to other users when not root. CI runs as
// root, so they run there.
func needRoot(t *testing.T, params map[string]any) {
	t.Helper()
	_, o := params["owner"]
	_, g := params["group"]
	if (o || g) && os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
}

func existingFile(content string, perm os.FileMode) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil { // umask
			t.Fatal(err)
		}
	}
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("content %q, want %q", b, want)
	}
}

// snapshot describes every entry below dir: name, mode, size, content hash.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		uid, gid := statIDs(fi)
		b.WriteString(p + " " + fi.Mode().String() + " " + strconv.Itoa(uid) + ":" + strconv.Itoa(gid))
		if fi.Mode().IsRegular() {
			h, _ := hashFile(p)
			b.WriteString(" " + h)
		}
		b.WriteByte('\n')
		return nil
	})
	return b.String()
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		params map[string]any
		want   string
	}{
		{"directory at target", sub, map[string]any{"content": "x"}, "is a directory"},
		{"unknown owner", filepath.Join(dir, "f"), map[string]any{"owner": "no-such-user-opsmop"}, `owner "no-such-user-opsmop"`},
		{"missing parent", filepath.Join(dir, "nope", "f"), map[string]any{"content": "x"}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := converge(t, &Env{}, build(t, "file", tt.path, tt.params))
			if !res.Failed || res.Status != protocol.StatusFailed || !strings.Contains(res.Msg, tt.want) {
				t.Fatalf("got %+v, want failure containing %q", res, tt.want)
			}
		})
	}
}

func TestFileParamErrors(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"unknown parameter", map[string]any{"conten": "x"}, `file: unknown parameter "conten"`},
		{"mode not octal", map[string]any{"mode": "rwxr-xr-x"}, `"mode" must be octal digits`},
		{"mode out of range", map[string]any{"mode": int64(0o17777)}, "out of range"},
		{"mode wrong type", map[string]any{"mode": true}, `parameter "mode" must be an integer, not bool`},
		{"owner wrong type", map[string]any{"owner": int64(3)}, `parameter "owner" must be a string`},
		{"two sources", map[string]any{"content": "a", "from_content": "b"}, "only one of"},
		{"absent with content", map[string]any{"content": "a", "absent": true}, "cannot be combined"},
		{"bad content_ref", map[string]any{"content_ref": map[string]any{"sha256": "xyz", "size": int64(1)}}, "not a hex sha256"},
		{"content_ref without size", map[string]any{"content_ref": map[string]any{"sha256": strings.Repeat("a", 64)}}, "size must be given"},
		{"content wrong type", map[string]any{"content": int64(1)}, `"content" must be bytes or a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(protocol.Resource{Type: "file", Name: "/tmp/x", Params: tt.params})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFileDiff(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "motd")
	existingFile("one\ntwo\nthree\n", 0o644)(t, path)
	r := build(t, "file", path, map[string]any{"content": "one\n2\nthree\n"})
	_, res := converge(t, &Env{Check: true, Diff: true}, r)
	want := "--- " + path + " (before)\n+++ " + path + " (after)\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
	if res.Diff != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", res.Diff, want)
	}
	// Without Diff asked for, none is made; binary content is not diffed.
	_, res = converge(t, &Env{Check: true}, build(t, "file", path, map[string]any{"content": "x"}))
	if res.Diff != "" {
		t.Fatalf("diff without --diff: %q", res.Diff)
	}
	_, res = converge(t, &Env{Check: true, Diff: true}, build(t, "file", path, map[string]any{"content": []byte{0, 1, 2}}))
	if res.Diff != "" || !slices.Equal(res.Actions, []string{"write content"}) {
		t.Fatalf("binary: %+v", res)
	}
	// A new file diffs against nothing, and the diff survives apply.
	newPath := filepath.Join(dir, "new")
	_, res = converge(t, &Env{Diff: true}, build(t, "file", newPath, map[string]any{"content": "a\n"}))
	if !strings.Contains(res.Diff, "@@ -0,0 +1 @@\n+a\n") {
		t.Fatalf("new file diff %q", res.Diff)
	}
}

// failingReader yields some bytes, then an error, like a fetch that turns
// out to have the wrong hash.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		m := min(f.n, len(p))
		for i := range p[:m] {
			p[i] = 'z'
		}
		f.n -= m
		return m, nil
	}
	return 0, errors.New("boom")
}

func TestWriteAtomicInterrupted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	existingFile("old content", 0o644)(t, path)
	err := writeAtomic(context.Background(), path, &failingReader{n: 100000}, fileAttrs{uid: -1, gid: -1, mode: 0o644})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
	wantContent(t, path, "old content")
	if l := leftovers(t, dir); len(l) > 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}

// blockingReader writes some bytes then waits until released, so a test
// can end the session in the middle of a write.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	sent    bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		close(b.started)
		return copy(p, "partial"), nil
	}
	<-b.release
	return 0, io.EOF
}

func TestTempTrackerRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	tr := newTempTracker()
	ctx := withTempTracker(context.Background(), tr)
	br := &blockingReader{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- writeAtomic(ctx, path, br, fileAttrs{uid: -1, gid: -1, mode: 0o644}) }()
	<-br.started
	if l := leftovers(t, dir); len(l) != 1 {
		t.Fatalf("want one temporary file while writing, got %v", l)
	}
	tr.mu.Lock()
	n := len(tr.files)
	tr.mu.Unlock()
	if n != 1 {
		t.Fatalf("tracker holds %d files", n)
	}
	close(br.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tr.removeAll()
	wantContent(t, path, "partial")
	if len(tr.files) != 0 || len(leftovers(t, dir)) != 0 {
		t.Fatal("tracker still holds a finished write")
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFileContentRef(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	ref := map[string]any{"sha256": sha(data), "size": int64(len(data))}
	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	fetches := 0
	env := &Env{Fetch: func(ctx context.Context, r protocol.ContentRef) (io.ReadCloser, error) {
		fetches++
		if r.SHA256 != ref["sha256"] {
			t.Errorf("fetched %s", r.SHA256)
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
	_, res := converge(t, env, build(t, "file", path, map[string]any{"content_ref": ref}))
	if res.Failed || fetches != 1 {
		t.Fatalf("%+v after %d fetches", res, fetches)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	_, res = converge(t, env, build(t, "file", path, map[string]any{"content_ref": ref}))
	if len(res.Actions) != 0 || fetches != 1 {
		t.Fatalf("second run %+v, %d fetches", res, fetches)
	}
}
