package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is what we need to know about a process to decide whether it belongs
// to a fleet: its network namespace and its real user id.
type proc struct {
	pid   int
	netns uint64 // inode of /proc/PID/ns/net; 0 if unreadable
	uid   int
}

// scanProcs lists live (non-zombie) processes.
func scanProcs() ([]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("fleet: list processes: %w", err)
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if ok {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

func readProc(pid int) (proc, bool) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return proc{}, false // gone already
	}
	p := proc{pid: pid, uid: -1}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "State:"):
			if strings.Contains(line, "Z") {
				return proc{}, false // a zombie holds nothing; its parent reaps it
			}
		case strings.HasPrefix(line, "Uid:"):
			if f := strings.Fields(line); len(f) > 1 {
				p.uid, _ = strconv.Atoi(f[1])
			}
		}
	}
	if link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net"); err == nil {
		// "net:[4026532281]"
		link = strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]")
		p.netns, _ = strconv.ParseUint(link, 10, 64)
	}
	return p, true
}

// nsInode returns the inode that identifies the named network namespace.
func nsInode(name string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// killAll SIGKILLs every process inside one of the namespaces or running as
// one of the uids, until none is left. Killing by namespace catches sshd and
// everything a session started, which setsid() takes out of any process
// group; killing by uid catches what a user started elsewhere.
func killAll(netns map[uint64]bool, uids map[int]bool) error {
	if len(netns) == 0 && len(uids) == 0 {
		return nil
	}
	self := os.Getpid()
	var left []int
	for attempt := 0; attempt < 100; attempt++ {
		ps, err := scanProcs()
		if err != nil {
			return err
		}
		left = left[:0]
		for _, p := range ps {
			if p.pid == self || !(netns[p.netns] || uids[p.uid]) {
				continue
			}
			left = append(left, p.pid)
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("fleet: processes %v survive SIGKILL", left)
}

// procStart returns a process's start time in clock ticks since boot, which
// with the pid identifies a process even after its pid is reused.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	// The command name in parentheses may contain spaces; fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("fleet: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state is field 3 of stat, starttime is field 22.
	if len(f) < 20 {
		return "", fmt.Errorf("fleet: short /proc/%d/stat", pid)
	}
	return f[19], nil
}
