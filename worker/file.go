package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("file", newFile) }

// File is the File resource: a regular file with the given content, owner,
// group and mode, or no file at all (absent=True).
//
// Content arrives in one of three parameters: "content" (bytes or a string,
// sent inline by the controller for small files), "content_ref" (a dict with
// sha256 and size: the worker fetches it from the controller only when the
// file does not already hold it) or "from_content" (a string). Without any,
// File manages the attributes of the file and creates it empty if missing.
//
// Plan actions: "create", "write content", "chown", "chgrp", "chmod",
// "delete". Creating or rewriting sets owner, group and mode on the
// temporary file before it is renamed into place, so a new file is never
// visible with the wrong permissions.
type File struct {
	path      string
	content   []byte               // inline content, when hasInline
	hasInline bool                 //
	ref       *protocol.ContentRef // content to fetch, when not nil
	owner     ownerSpec
	group     ownerSpec
	mode      os.FileMode
	hasMode   bool
	absent    bool
	overwrite bool

	// Learned by Plan.
	existing fs.FileInfo // nil when there is no file
	diff     string
}

func newFile(name string, p Params) (Resource, error) {
	if name == "" {
		return nil, errors.New("file: name (the path) must not be empty")
	}
	r := &File{path: filepath.Clean(name), owner: ownerSpec{}, group: ownerSpec{group: true}}
	rd := p.reader()
	r.owner.name = rd.String("owner", "")
	r.group.name = rd.String("group", "")
	var err error
	r.mode, r.hasMode, err = modeParam(&p)
	rd.keep(err)
	r.absent = rd.Bool("absent", false)
	r.overwrite = rd.Bool("overwrite", true)
	rd.keep(r.contentParams(&p))
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if r.absent && (r.hasInline || r.ref != nil) {
		return nil, fmt.Errorf("file %q: absent=True cannot be combined with content", name)
	}
	return r, nil
}

// contentParams reads whichever of content, content_ref and from_content is
// given; more than one is an error.
func (r *File) contentParams(p *Params) error {
	sources := 0
	if v, ok := p.Raw("content"); ok {
		sources++
		switch c := v.(type) {
		case []byte:
			r.content = c
		case string:
			r.content = []byte(c)
		default:
			return p.typeErr("content", "bytes or a string", v)
		}
		r.hasInline = true
	}
	if p.Has("from_content") {
		sources++
		s, err := p.String("from_content", "")
		if err != nil {
			return err
		}
		r.content, r.hasInline = []byte(s), true
	}
	if v, ok := p.Raw("content_ref"); ok {
		sources++
		ref, err := decodeContentRef(v)
		if err != nil {
			return fmt.Errorf("file: parameter \"content_ref\": %w", err)
		}
		r.ref = ref
	}
	if sources > 1 {
		return errors.New("file: give only one of content, content_ref and from_content")
	}
	return nil
}

// decodeContentRef accepts the map msgpack decodes a protocol.ContentRef to.
func decodeContentRef(v any) (*protocol.ContentRef, error) {
	switch m := v.(type) {
	case protocol.ContentRef:
		return &m, validRef(&m)
	case *protocol.ContentRef:
		return m, validRef(m)
	case map[string]any:
		ref := &protocol.ContentRef{}
		sha, ok := m["sha256"].(string)
		if !ok {
			return nil, errors.New("sha256 must be a string")
		}
		ref.SHA256 = sha
		p := NewParams("content_ref", m)
		size, err := p.Int("size", -1)
		if err != nil {
			return nil, err
		}
		ref.Size = size
		return ref, validRef(ref)
	}
	return nil, fmt.Errorf("must be a dict with sha256 and size, not %T", v)
}

func validRef(ref *protocol.ContentRef) error {
	if b, err := hex.DecodeString(ref.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("sha256 %q is not a hex sha256", ref.SHA256)
	}
	if ref.Size < 0 {
		return errors.New("size must be given and not negative")
	}
	return nil
}

func (r *File) hasContent() bool { return r.hasInline || r.ref != nil }

// Plan compares the file with what it should be.
func (r *File) Plan(ctx context.Context, env *Env) ([]string, error) {
	r.existing, r.diff = nil, ""
	if err := r.followLink(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if r.absent {
			return nil, nil
		}
		r.setDiff(env, nil)
		return []string{"create"}, nil
	case err != nil:
		return nil, fmt.Errorf("file %q: %w", r.path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("file %q: is a directory", r.path)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("file %q: is not a regular file (%s)", r.path, fi.Mode().Type())
	}
	r.existing = fi
	if r.absent {
		return []string{"delete"}, nil
	}
	var plan []string
	if r.hasContent() && r.overwrite {
		same, err := r.sameContent(fi)
		if err != nil {
			return nil, err
		}
		if !same {
			plan = append(plan, "write content")
			r.setDiff(env, fi)
		}
	}
	attrs, err := attrPlan(fi, r.owner, r.group, r.mode, r.hasMode, env.Check)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", r.path, err)
	}
	return append(plan, attrs...), nil
}

// attrPlan lists the chown, chgrp and chmod a file or directory needs.
func attrPlan(fi fs.FileInfo, own, grp ownerSpec, mode os.FileMode, hasMode, check bool) ([]string, error) {
	var plan []string
	if d, err := own.differs(fi, check); err != nil {
		return nil, err
	} else if d {
		plan = append(plan, "chown")
	}
	if d, err := grp.differs(fi, check); err != nil {
		return nil, err
	} else if d {
		plan = append(plan, "chgrp")
	}
	if hasMode && permBits(fi.Mode()) != mode {
		plan = append(plan, "chmod")
	}
	return plan, nil
}

// followLink makes a symbolic link at the path manage the file it points
// to, as chmod and chown would, rather than be replaced by the rename of an
// atomic write. A dangling link is replaced, unless absent=True, which
// removes the link itself.
func (r *File) followLink() error {
	fi, err := os.Lstat(r.path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || r.absent {
		return nil
	}
	target, err := filepath.EvalSymlinks(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("file %q: %w", r.path, err)
	}
	r.path = target
	return nil
}

func (r *File) sameContent(fi fs.FileInfo) (bool, error) {
	if r.ref != nil {
		if fi.Size() != r.ref.Size {
			return false, nil
		}
		have, err := hashFile(r.path)
		if err != nil {
			return false, err
		}
		return have == r.ref.SHA256, nil
	}
	if fi.Size() != int64(len(r.content)) {
		return false, nil
	}
	// Inline content is at hand: comparing bytes answers the same question
	// as comparing sha256s, without hashing either side.
	return fileEquals(r.path, r.content)
}

// fileEquals reports whether the file at path holds exactly want. It reads
// one byte more than want to see a file that grew since it was stat'ed.
func fileEquals(path string, want []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, len(want)+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return bytes.Equal(buf[:n], want), nil
}

// hashBufSize is the read size of hashFile: larger than io.Copy's 32 KiB,
// so a 1 MiB file takes 8 reads rather than 32.
const hashBufSize = 128 << 10

var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashBufSize); return &b }}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	// onlyReader hides File.WriteTo, which would ignore buf.
	if _, err := io.CopyBuffer(h, onlyReader{f}, *buf); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// onlyReader exposes Read and nothing else.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// setDiff computes the unified diff of an inline content change when the
// run asked for diffs. Content fetched by reference is large by definition
// and is not diffed.
func (r *File) setDiff(env *Env, old fs.FileInfo) {
	if !env.Diff || !r.hasInline {
		return
	}
	var before []byte
	if old != nil {
		if old.Size() > maxDiffSize {
			return
		}
		b, err := os.ReadFile(r.path)
		if err != nil {
			return
		}
		before = b
	}
	r.diff = unifiedDiff(r.path, before, r.content)
}

// planDetail gives the check-mode result the diff computed by Plan.
func (r *File) planDetail(res *protocol.Result) { res.Diff = r.diff }

// Apply takes the planned actions.
func (r *File) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	res := &protocol.Result{Diff: r.diff}
	if planHas(plan, "delete") {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("delete %s: %w", r.path, err)
		}
		return res, nil
	}
	if planHas(plan, "create") || planHas(plan, "write content") {
		return res, r.write(ctx, env)
	}
	return res, applyAttrs(r.path, plan, r.owner, r.group, r.mode)
}

// write replaces the file atomically. A rewrite keeps the existing file's
// owner, group and mode unless the resource sets them.
func (r *File) write(ctx context.Context, env *Env) error {
	attrs := fileAttrs{uid: -1, gid: -1, mode: 0o644}
	if r.existing != nil {
		attrs.mode = permBits(r.existing.Mode())
		attrs.uid, attrs.gid = statIDs(r.existing)
	}
	uid, gid, err := chownIDs(r.owner, r.group)
	if err != nil {
		return fmt.Errorf("file %q: %w", r.path, err)
	}
	if uid >= 0 {
		attrs.uid = uid
	}
	if gid >= 0 {
		attrs.gid = gid
	}
	if r.hasMode {
		attrs.mode = r.mode
	}
	src, closeSrc, err := r.source(ctx, env)
	if err != nil {
		return err
	}
	defer closeSrc()
	return writeAtomic(ctx, r.path, src, attrs)
}

// source opens the content: inline bytes, a fetch from the controller, or
// nothing (an empty file).
func (r *File) source(ctx context.Context, env *Env) (io.Reader, func(), error) {
	if r.ref == nil {
		return bytes.NewReader(r.content), func() {}, nil
	}
	if env.Fetch == nil {
		return nil, nil, fmt.Errorf("file %q: content by reference needs a controller to fetch it from", r.path)
	}
	rc, err := env.Fetch(ctx, *r.ref)
	if err != nil {
		return nil, nil, fmt.Errorf("file %q: fetch content: %w", r.path, err)
	}
	return rc, func() { rc.Close() }, nil
}

// applyAttrs changes owner, group and mode in place, as planned.
func applyAttrs(path string, plan []string, own, grp ownerSpec, mode os.FileMode) error {
	if planHas(plan, "chown") || planHas(plan, "chgrp") {
		var o, g ownerSpec
		if planHas(plan, "chown") {
			o = own
		}
		if planHas(plan, "chgrp") {
			g = grp
		}
		uid, gid, err := chownIDs(o, g)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	// After chown, which clears setuid and setgid bits.
	if planHas(plan, "chmod") || (planHas(plan, "chown") || planHas(plan, "chgrp")) && mode&(os.ModeSetuid|os.ModeSetgid) != 0 {
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	return nil
}
