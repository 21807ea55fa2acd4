package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/opsmop/opsmop/internal/buildinfo"
)

// FileFacts answers the file tests templates and conditions ask about path:
// exists, is_file, is_dir, is_link, executable, mode ("0644"), owner and
// group (names, or numeric ids when they have no name), size and sha256
// (regular files only, else ""). Symlinks are followed except for is_link.
// A missing file is not an error: exists is false and the rest are zero.
func FileFacts(path string) (map[string]any, error) {
	out := map[string]any{
		"path": path, "exists": false, "is_file": false, "is_dir": false, "is_link": false,
		"executable": false, "mode": "", "owner": "", "group": "", "size": int64(0), "sha256": "",
	}
	if lst, err := os.Lstat(path); err == nil {
		out["is_link"] = lst.Mode()&fs.ModeSymlink != 0
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file facts: %w", err)
	}
	out["exists"] = true
	out["is_file"] = st.Mode().IsRegular()
	out["is_dir"] = st.IsDir()
	out["executable"] = st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
	out["mode"] = fmt.Sprintf("%04o", st.Mode().Perm()|unixSpecialBits(st.Mode()))
	out["size"] = st.Size()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		out["owner"] = userName(sys.Uid)
		out["group"] = groupName(sys.Gid)
	}
	if st.Mode().IsRegular() {
		sum, err := buildinfo.FileHash(path)
		if err != nil {
			return nil, fmt.Errorf("file facts: %w", err)
		}
		out["sha256"] = sum
	}
	return out, nil
}

// unixSpecialBits maps Go's setuid/setgid/sticky flags back to octal.
func unixSpecialBits(m fs.FileMode) fs.FileMode {
	var b fs.FileMode
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
