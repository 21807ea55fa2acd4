package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The registry: one file per live fleet, stateDir/fleets/<fleet>, holding the
// owner's pid and start time. It is written before a fleet creates anything
// and removed after Close removed everything, so an object whose fleet is
// not registered to a live process is a leftover.
func registryPath(fleet string) string { return filepath.Join(stateDir, "fleets", fleet) }

var errTaken = errors.New("fleet: name taken")

func register(fleet string) error {
	dir := filepath.Join(stateDir, "fleets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("fleet: create registry: %w", err)
	}
	start, err := procStart(os.Getpid())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".new-*")
	if err != nil {
		return fmt.Errorf("fleet: register: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%d %s\n", os.Getpid(), start)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fleet: register: %w", err)
	}
	// link(2) publishes the complete file and fails if the name exists.
	if err := os.Link(tmp.Name(), registryPath(fleet)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errTaken
		}
		return fmt.Errorf("fleet: register: %w", err)
	}
	return nil
}

// alive reports whether fleet is registered to a process that still runs.
func alive(fleet string) bool {
	b, err := os.ReadFile(registryPath(fleet))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return false
	}
	start, err := procStart(pid)
	return err == nil && start == f[1]
}

// objects are the things one fleet left on the machine.
type objects struct {
	netns, links, users, sudoers []string
	uids                         []int
	dir                          string
	registered                   bool
}

// discover finds, by name, every object of every fleet with this prefix.
func discover(ctx context.Context, prefix string) (map[string]*objects, error) {
	found := map[string]*objects{}
	get := func(name string) *objects {
		fl, ok := fleetOf(prefix, name)
		if !ok {
			return nil
		}
		if found[fl] == nil {
			found[fl] = &objects{}
		}
		return found[fl]
	}
	var errs []error
	if ents, err := os.ReadDir(filepath.Join(stateDir, "fleets")); err == nil {
		for _, e := range ents {
			if fl, ok := fleetOf(prefix, e.Name()); ok && fl == e.Name() {
				o := get(fl)
				o.registered = true
			}
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if o := get(e.Name()); o != nil {
				o.netns = append(o.netns, e.Name())
			}
		}
	}
	links, err := listLinks(ctx)
	errs = append(errs, err)
	for _, l := range links {
		if o := get(l); o != nil {
			o.links = append(o.links, l)
		}
	}
	users, err := listUsers()
	errs = append(errs, err)
	for name, pw := range users {
		if o := get(name); o != nil {
			o.users = append(o.users, name)
			o.uids = append(o.uids, pw.uid)
		}
	}
	if ents, err := os.ReadDir("/etc/sudoers.d"); err == nil {
		for _, e := range ents {
			if o := get(e.Name()); o != nil {
				o.sudoers = append(o.sudoers, filepath.Join("/etc/sudoers.d", e.Name()))
			}
		}
	}
	if ents, err := os.ReadDir(os.TempDir()); err == nil {
		for _, e := range ents {
			if o := get(e.Name()); o != nil && e.IsDir() {
				o.dir = filepath.Join(os.TempDir(), e.Name())
			}
		}
	}
	return found, errors.Join(errs...)
}

func listLinks(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, "ip", "-j", "link", "show")
	if err != nil {
		return nil, fmt.Errorf("fleet: list links: %w", err)
	}
	var links []struct {
		IfName string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("fleet: parse ip -j link: %w", err)
	}
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.IfName
	}
	return names, nil
}

type pwent struct{ uid, gid int }

// listUsers reads /etc/passwd directly: the fleet's users are local users,
// and this avoids a lookup per name.
func listUsers() (map[string]pwent, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	defer f.Close()
	users := map[string]pwent{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 {
			continue
		}
		uid, err1 := strconv.Atoi(fields[2])
		gid, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			continue
		}
		users[fields[0]] = pwent{uid, gid}
	}
	return users, sc.Err()
}

// Sweep removes what crashed or killed fleets with this prefix left behind:
// processes, namespaces, links, users, sudoers files and directories of every
// fleet whose owner process is gone. Fleets of live processes, including
// other test binaries running in parallel, are left alone. Start calls it.
func Sweep(prefix string) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	found, err := discover(ctx, prefix)
	errs := []error{err}
	for name, o := range found {
		if alive(name) {
			continue
		}
		errs = append(errs, destroy(ctx, name, o))
	}
	return errors.Join(errs...)
}

// destroy removes every object of one fleet. Each step runs even if an
// earlier one failed, so a partial failure leaves as little as possible.
func destroy(ctx context.Context, fleet string, o *objects) error {
	var errs []error
	inodes := map[uint64]bool{}
	for _, ns := range o.netns {
		if ino, err := nsInode(ns); err == nil {
			inodes[ino] = true
		}
	}
	uids := map[int]bool{}
	for _, u := range o.uids {
		uids[u] = true
	}
	errs = append(errs, killAll(inodes, uids))

	// Deleting a namespace lets the kernel tear down its veth pair in the
	// background, in batches, which is much faster than deleting links.
	if len(o.netns) > 0 {
		var b strings.Builder
		for _, ns := range o.netns {
			fmt.Fprintf(&b, "netns del %s\n", ns)
		}
		if _, err := run(ctx, []byte(b.String()), "ip", "-force", "-batch", "-"); err != nil {
			errs = append(errs, fmt.Errorf("fleet: delete namespaces of %s: %w", fleet, err))
		}
	}
	errs = append(errs, removeLinks(ctx, fleet, o.links))

	if len(o.users) > 0 {
		errs = append(errs, withLock(func() error { return deleteUsers(ctx, o.users) }))
	}
	for _, s := range o.sudoers {
		if err := os.Remove(s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("fleet: %w", err))
		}
	}
	if o.dir != "" {
		if err := os.RemoveAll(o.dir); err != nil {
			errs = append(errs, fmt.Errorf("fleet: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // keep the registry entry: the next Sweep retries
	}
	if err := os.Remove(registryPath(fleet)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// removeLinks waits for the veths that namespace deletion takes down, then
// deletes what is left (the bridge, or veths whose namespace was already gone).
func removeLinks(ctx context.Context, fleet string, links []string) error {
	if len(links) == 0 {
		return nil
	}
	br := bridgeName(fleet)
	deadline := time.Now().Add(10 * time.Second)
	var left []string
	for {
		all, err := listLinks(ctx)
		if err != nil {
			return err
		}
		left = left[:0]
		for _, l := range all {
			if fl, ok := fleetOf(fleet[:len(fleet)-idLen], l); ok && fl == fleet && l != br {
				left = append(left, l)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var b strings.Builder
	for _, l := range append(left, br) {
		fmt.Fprintf(&b, "link del %s\n", l)
	}
	// -force: go on past links that vanished meanwhile.
	run(ctx, []byte(b.String()), "ip", "-force", "-batch", "-")
	all, err := listLinks(ctx)
	if err != nil {
		return err
	}
	for _, l := range all {
		if fl, ok := fleetOf(fleet[:len(fleet)-idLen], l); ok && fl == fleet {
			return fmt.Errorf("fleet: link %s of %s could not be deleted", l, fleet)
		}
	}
	return nil
}
