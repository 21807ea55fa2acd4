package worker

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ownerSpec is a wanted owner or group: a name, resolved to a numeric id when a
// resource plans (an earlier User or Group resource may have just created
// it), or a number given as a string.
type ownerSpec struct {
	name  string // as given; "" means not managed
	group bool
}

// ErrNoSuchOwner is wrapped by errors for an owner or group that does not
// exist on the host.
var ErrNoSuchOwner = errors.New("no such user or group")

// id resolves the owner to a numeric id.
func (o ownerSpec) id() (int, error) {
	if n, err := strconv.Atoi(o.name); err == nil && n >= 0 {
		return n, nil
	}
	if o.group {
		g, err := user.LookupGroup(o.name)
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", o.name, ErrNoSuchOwner)
		}
		return strconv.Atoi(g.Gid)
	}
	u, err := user.Lookup(o.name)
	if err != nil {
		return 0, fmt.Errorf("owner %q: %w", o.name, ErrNoSuchOwner)
	}
	return strconv.Atoi(u.Uid)
}

// differs reports whether fi's owner (or group) is not o. In check mode an
// owner that does not exist yet is reported as a change rather than an
// error, because an earlier User or Group resource would create it.
func (o ownerSpec) differs(fi os.FileInfo, check bool) (bool, error) {
	if o.name == "" {
		return false, nil
	}
	want, err := o.id()
	if err != nil {
		if check && errors.Is(err, ErrNoSuchOwner) {
			return true, nil
		}
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("no owner information for %s", fi.Name())
	}
	have := int(st.Uid)
	if o.group {
		have = int(st.Gid)
	}
	return have != want, nil
}

// chownIDs resolves owner and group for chown; -1 leaves an id unchanged.
func chownIDs(own, grp ownerSpec) (uid, gid int, err error) {
	uid, gid = -1, -1
	if own.name != "" {
		if uid, err = own.id(); err != nil {
			return -1, -1, err
		}
	}
	if grp.name != "" {
		if gid, err = grp.id(); err != nil {
			return -1, -1, err
		}
	}
	return uid, gid, nil
}

// modeParam reads a mode: an integer (0o644 in a policy) or a string of
// octal digits ("0644", "644"). ok is false when mode is not set.
func modeParam(p *Params) (mode os.FileMode, ok bool, err error) {
	v, ok := p.Raw("mode")
	if !ok {
		return 0, false, nil
	}
	var n int64
	switch m := v.(type) {
	case string:
		u, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%s: parameter \"mode\" must be octal digits such as \"0644\", not %q", p.typ, m)
		}
		n = int64(u)
	default:
		i, err := p.Int("mode", 0)
		if err != nil {
			return 0, false, err
		}
		n = i
	}
	if n < 0 || n > 0o7777 {
		return 0, false, fmt.Errorf("%s: parameter \"mode\" %#o is out of range (0 to 0o7777)", p.typ, n)
	}
	return toFileMode(uint32(n)), true, nil
}

// toFileMode maps Unix permission bits, setuid, setgid and sticky included,
// to an os.FileMode.
func toFileMode(n uint32) os.FileMode {
	m := os.FileMode(n & 0o777)
	if n&syscall.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if n&syscall.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if n&syscall.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// permBits keeps the bits of a mode that chmod sets.
func permBits(m os.FileMode) os.FileMode {
	return m & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
}

// planHas reports whether plan holds action.
func planHas(plan []string, action string) bool {
	for _, a := range plan {
		if a == action {
			return true
		}
	}
	return false
}

// statIDs returns the owner and group ids of fi, or -1 when unknown.
func statIDs(fi os.FileInfo) (uid, gid int) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1
	}
	return int(st.Uid), int(st.Gid)
}
