package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// createUsers adds every host's login user with newusers, one process for
// the whole fleet: useradd costs ~15 ms a user, and newusers with passwords
// hashes each through PAM (~20 ms). So newusers gets no passwords and
// chpasswd sets them afterwards: "*" (pre-hashed, -e) for NOPASSWD users,
// which unlocks the account for key logins (sshd without PAM refuses a
// locked "!" account) while no password matches it; the real password,
// hashed by PAM, only for the few users that need one. Passwords go on
// stdin, never argv.
func createUsers(ctx context.Context, hosts []*Host) error {
	var nu, star, pw strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&nu, "%s:::::%s:/bin/sh\n", h.User, h.Home)
		if h.SudoPassword == "" {
			fmt.Fprintf(&star, "%s:*\n", h.User)
		} else {
			fmt.Fprintf(&pw, "%s:%s\n", h.User, h.SudoPassword)
		}
	}
	return withLock(func() error {
		// newusers complains about the empty passwords and exits non-zero
		// even though it created the users; what counts is checked below.
		out, nerr := retryLocked(func() ([]byte, error) { return run(ctx, []byte(nu.String()), "newusers") })
		users, err := listUsers()
		if err != nil {
			return err
		}
		for _, h := range hosts {
			pw, ok := users[h.User]
			if !ok {
				return fmt.Errorf("fleet: newusers did not create %s: %v %s", h.User, nerr, out)
			}
			h.UID, h.GID = pw.uid, pw.gid
		}
		if star.Len() > 0 {
			if _, err := retryLocked(func() ([]byte, error) { return run(ctx, []byte(star.String()), "chpasswd", "-e") }); err != nil {
				return fmt.Errorf("fleet: unlock users: %w", err)
			}
		}
		if pw.Len() > 0 {
			if _, err := retryLocked(func() ([]byte, error) { return run(ctx, []byte(pw.String()), "chpasswd") }); err != nil {
				return fmt.Errorf("fleet: set sudo passwords: %w", err)
			}
		}
		return nil
	})
}

// deleteUsers removes users and their private groups. -f because a process
// we failed to kill must not keep the user alive forever.
func deleteUsers(ctx context.Context, names []string) error {
	var errs []error
	for _, u := range names {
		_, err := retryLocked(func() ([]byte, error) { return run(ctx, nil, "userdel", "-f", u) })
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			errs = append(errs, fmt.Errorf("fleet: delete user %s: %w", u, err))
		}
	}
	return errors.Join(errs...)
}

// retryLocked retries a shadow-utils command that failed because someone
// outside our lock (an admin's useradd, say) holds the user database.
func retryLocked(fn func() ([]byte, error)) ([]byte, error) {
	for i := 0; ; i++ {
		out, err := fn()
		if err == nil || i == 50 || !strings.Contains(err.Error(), "lock") {
			return out, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setupHome writes the user's authorized_keys. newusers created the home
// directory, owned by the user, mode 0755; sshd's StrictModes accepts it and
// the directories above it are root's.
func setupHome(h *Host, authorizedKey []byte) error {
	sshDir := filepath.Join(h.Home, ".ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("fleet: %w", err)
	}
	ak := filepath.Join(sshDir, "authorized_keys")
	if err := writeFile(ak, authorizedKey, 0o600); err != nil {
		return err
	}
	for _, p := range []string{sshDir, ak} {
		if err := os.Lchown(p, h.UID, h.GID); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
	}
	return nil
}

func sudoersFor(h *Host, requireTTY bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# opsmop e2e fleet host %s; fleet.Close or fleet.Sweep removes it\n", h.Netns)
	fmt.Fprintf(&b, "Defaults:%s !lecture\n", h.User)
	if requireTTY {
		fmt.Fprintf(&b, "Defaults:%s requiretty\n", h.User)
	}
	if h.SudoLog != "" {
		fmt.Fprintf(&b, "Defaults:%s logfile=%s, loglinelen=0\n", h.User, h.SudoLog)
	}
	if h.SudoPassword != "" {
		// Ask every time: a test that means to exercise the password must
		// not pass on a credential cached by an earlier sudo.
		fmt.Fprintf(&b, "Defaults:%s timestamp_timeout=0\n", h.User)
		fmt.Fprintf(&b, "%s ALL=(ALL:ALL) ALL\n", h.User)
	} else {
		fmt.Fprintf(&b, "%s ALL=(ALL:ALL) NOPASSWD: ALL\n", h.User)
	}
	return b.String()
}

// writeSudoers validates all hosts' rules with one visudo run (the files are
// independent, so their concatenation checks each) and then installs one
// file per host atomically: a broken sudoers.d file breaks sudo for root too.
func writeSudoers(ctx context.Context, dir string, hosts []*Host, files []string, contents []string) error {
	all := filepath.Join(dir, "sudoers.check")
	if err := writeFile(all, []byte(strings.Join(contents, "")), 0o440); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "visudo", "-c", "-q", "-f", all); err != nil {
		return fmt.Errorf("fleet: generated sudoers rules are invalid: %w", err)
	}
	for i := range hosts {
		if err := writeFileAtomic(files[i], []byte(contents[i]), 0o440); err != nil {
			return err
		}
	}
	return nil
}
