package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadFile reads a file named by from_file or from_template. rel resolves
// against the policy folder; the file must stay inside that folder (after
// following symlinks), must not be under .git, must not be the policy
// itself or an editor backup. Refusals are *ServeError.
func (p *Policy) ReadFile(rel string) ([]byte, error) {
	if rel == "" {
		return nil, &ServeError{Path: rel, Reason: "empty path"}
	}
	full := rel
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.Dir, rel)
	}
	full = filepath.Clean(full)
	if err := p.allowed(rel, p.Dir, full); err != nil {
		return nil, err
	}
	// Check again after following symlinks: a link inside the folder may
	// point anywhere.
	realDir, err := filepath.EvalSymlinks(p.Dir)
	if err != nil {
		return nil, fmt.Errorf("read %q: policy folder: %w", rel, err)
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %q: no such file (looked for %s)", rel, full)
		}
		return nil, fmt.Errorf("read %q: %w", rel, err)
	}
	if err := p.allowed(rel, realDir, real); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", rel, err)
	}
	return data, nil
}

// allowed applies the serving rules to path within dir.
func (p *Policy) allowed(rel, dir, path string) error {
	inside, err := filepath.Rel(dir, path)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		return &ServeError{Path: rel, Reason: "it is outside the policy folder " + p.Dir}
	}
	if inside == "." {
		return &ServeError{Path: rel, Reason: "it is the policy folder itself"}
	}
	for _, part := range strings.Split(inside, string(filepath.Separator)) {
		if part == ".git" {
			return &ServeError{Path: rel, Reason: "files under .git are never served"}
		}
	}
	base := filepath.Base(path)
	if strings.HasSuffix(base, "~") || strings.HasSuffix(base, ".swp") || strings.HasSuffix(base, ".swo") ||
		(strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#")) {
		return &ServeError{Path: rel, Reason: "it looks like an editor backup"}
	}
	if p.isPolicyFile(path) {
		return &ServeError{Path: rel, Reason: "it is the policy file itself"}
	}
	return nil
}

func (p *Policy) isPolicyFile(path string) bool {
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(p.Path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
