package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// tempTracker remembers the temporary files a session has created and not
// yet renamed into place, so that a session that ends in the middle of a
// write (the controller went away, SIGTERM) can remove them: no half-written
// file is left beside its target.
type tempTracker struct {
	mu    sync.Mutex
	files map[string]bool
}

func newTempTracker() *tempTracker { return &tempTracker{files: map[string]bool{}} }

func (t *tempTracker) add(path string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.files[path] = true
	t.mu.Unlock()
}

func (t *tempTracker) done(path string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	delete(t.files, path)
	t.mu.Unlock()
}

// removeAll deletes every file still tracked.
func (t *tempTracker) removeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := range t.files {
		os.Remove(p)
		delete(t.files, p)
	}
}

type tempTrackerKey struct{}

// withTempTracker makes atomic writes under ctx record their temp files in t.
// The tracker travels in the context because resources receive only ctx and
// Env, and every session needs its own.
func withTempTracker(ctx context.Context, t *tempTracker) context.Context {
	return context.WithValue(ctx, tempTrackerKey{}, t)
}

func trackerFrom(ctx context.Context) *tempTracker {
	t, _ := ctx.Value(tempTrackerKey{}).(*tempTracker)
	return t
}

// fileAttrs are the owner, group and permission bits a written file gets.
// A negative uid or gid leaves that id as the writing process has it.
type fileAttrs struct {
	uid, gid int
	mode     os.FileMode
}

// tempPrefix starts the name of every temporary file, so a leftover one is
// recognisable (and tests can look for them).
const tempPrefix = ".opsmop-"

// writeAtomic replaces path with the bytes of src: it writes a temporary
// file in the same directory, gives it its owner, group and mode, syncs it,
// renames it over path and syncs the directory. Whatever happens, path holds
// either its old content or the new content, never a part of it. An error
// from src (a fetch whose hash did not match) aborts before the rename.
func writeAtomic(ctx context.Context, path string, src io.Reader, attrs fileAttrs) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix+base+".*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	tr := trackerFrom(ctx)
	tr.add(tmp)
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
		tr.done(tmp)
	}()
	// The writer side checks ctx, so that a source with WriteTo (inline
	// bytes, a fetch) hands its buffers straight to the file: no copy
	// through an intermediate 32 KiB buffer, one write per chunk.
	if _, err = io.Copy(ctxWriter{ctx, f}, src); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if attrs.uid >= 0 || attrs.gid >= 0 {
		if err = f.Chown(attrs.uid, attrs.gid); err != nil {
			return fmt.Errorf("set owner of %s: %w", path, err)
		}
	}
	// Chmod after chown: chown clears the setuid and setgid bits.
	if err = f.Chmod(attrs.mode); err != nil {
		return fmt.Errorf("set mode of %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename temporary file to %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// ctxWriter stops a long copy when the session ends: every write checks
// ctx first.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
