package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opsmop/opsmop/protocol"
)

func init() { Register("directory", newDirectory) }

// Directory is the Directory resource: a directory (and its missing parents)
// with the given owner, group and mode, or no directory (absent=True).
//
// Plan actions: "create", "chown", "chgrp", "chmod", "delete". With
// recursive=True owner and group apply to everything below the directory
// too, and absent=True removes a directory that is not empty; without it,
// removing a non-empty directory is an error rather than a surprise.
type Directory struct {
	path      string
	owner     ownerSpec
	group     ownerSpec
	mode      os.FileMode
	hasMode   bool
	absent    bool
	recursive bool
}

func newDirectory(name string, p Params) (Resource, error) {
	if name == "" {
		return nil, errors.New("directory: name (the path) must not be empty")
	}
	r := &Directory{path: filepath.Clean(name), group: ownerSpec{group: true}}
	rd := p.reader()
	r.owner.name = rd.String("owner", "")
	r.group.name = rd.String("group", "")
	var err error
	r.mode, r.hasMode, err = modeParam(&p)
	rd.keep(err)
	r.absent = rd.Bool("absent", false)
	r.recursive = rd.Bool("recursive", false)
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if r.path == "/" && r.absent {
		return nil, errors.New("directory \"/\": refusing to remove the root directory")
	}
	return r, nil
}

// Plan compares the directory with what it should be.
func (r *Directory) Plan(ctx context.Context, env *Env) ([]string, error) {
	fi, err := os.Stat(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if r.absent {
			return nil, nil
		}
		return []string{"create"}, nil
	case err != nil:
		return nil, fmt.Errorf("directory %q: %w", r.path, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("directory %q: exists and is not a directory", r.path)
	}
	if r.absent {
		if !r.recursive {
			empty, err := isEmptyDir(r.path)
			if err != nil {
				return nil, err
			}
			if !empty {
				return nil, fmt.Errorf("directory %q: is not empty; set recursive=True to remove it with its contents", r.path)
			}
		}
		return []string{"delete"}, nil
	}
	plan, err := attrPlan(fi, r.owner, r.group, r.mode, r.hasMode, env.Check)
	if err != nil {
		return nil, fmt.Errorf("directory %q: %w", r.path, err)
	}
	if r.recursive {
		plan, err = r.treePlan(plan, env.Check)
		if err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// treePlan adds chown or chgrp when anything below the directory has
// another owner or group.
func (r *Directory) treePlan(plan []string, check bool) ([]string, error) {
	needOwner := r.owner.name != "" && !planHas(plan, "chown")
	needGroup := r.group.name != "" && !planHas(plan, "chgrp")
	if !needOwner && !needGroup {
		return plan, nil
	}
	err := filepath.WalkDir(r.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if needOwner {
			if diff, err := r.owner.differs(fi, check); err != nil {
				return err
			} else if diff {
				plan, needOwner = append(plan, "chown"), false
			}
		}
		if needGroup {
			if diff, err := r.group.differs(fi, check); err != nil {
				return err
			} else if diff {
				plan, needGroup = append(plan, "chgrp"), false
			}
		}
		if !needOwner && !needGroup {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("directory %q: %w", r.path, err)
	}
	return orderActions(plan), nil
}

// orderActions keeps actions in their documented order.
func orderActions(plan []string) []string {
	var out []string
	for _, a := range []string{"create", "chown", "chgrp", "chmod", "delete"} {
		if planHas(plan, a) {
			out = append(out, a)
		}
	}
	return out
}

func isEmptyDir(path string) (bool, error) {
	d, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("directory %q: %w", path, err)
	}
	defer d.Close()
	_, err = d.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("directory %q: %w", path, err)
	}
	return false, nil
}

// Apply takes the planned actions.
func (r *Directory) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	res := &protocol.Result{}
	if planHas(plan, "delete") {
		return res, r.remove()
	}
	if planHas(plan, "create") {
		return res, r.create()
	}
	if r.recursive && (planHas(plan, "chown") || planHas(plan, "chgrp")) {
		if err := r.chownTree(plan); err != nil {
			return res, err
		}
		// The top directory is done; chmod may remain.
		if !planHas(plan, "chmod") {
			return res, nil
		}
		return res, applyAttrs(r.path, []string{"chmod"}, r.owner, r.group, r.mode)
	}
	return res, applyAttrs(r.path, plan, r.owner, r.group, r.mode)
}

func (r *Directory) remove() error {
	var err error
	if r.recursive {
		err = os.RemoveAll(r.path)
	} else {
		err = os.Remove(r.path)
	}
	if err != nil {
		return fmt.Errorf("remove directory %s: %w", r.path, err)
	}
	return nil
}

// create makes the directory and its missing parents, then sets owner,
// group and mode on the directory itself.
func (r *Directory) create() error {
	if err := os.MkdirAll(r.path, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", r.path, err)
	}
	plan := []string{}
	if r.owner.name != "" {
		plan = append(plan, "chown")
	}
	if r.group.name != "" {
		plan = append(plan, "chgrp")
	}
	if r.hasMode {
		plan = append(plan, "chmod")
	}
	return applyAttrs(r.path, plan, r.owner, r.group, r.mode)
}

// chownTree gives everything below the directory, and the directory, the
// owner and group. Symbolic links are changed themselves, never followed.
func (r *Directory) chownTree(plan []string) error {
	var o, g ownerSpec
	if planHas(plan, "chown") {
		o = r.owner
	}
	if planHas(plan, "chgrp") {
		g = r.group
	}
	uid, gid, err := chownIDs(o, g)
	if err != nil {
		return fmt.Errorf("directory %q: %w", r.path, err)
	}
	return filepath.WalkDir(r.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}
