package worker

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// readOSRelease parses os-release(5): KEY=value lines, values optionally
// quoted. A missing file gives an empty map (distribution facts are "").
func readOSRelease(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[k] = unquoteOSRelease(v)
	}
	return out
}

func unquoteOSRelease(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		v = strings.NewReplacer(`\"`, `"`, `\$`, `$`, "\\`", "`", `\\`, `\`).Replace(v)
	}
	return v
}

type uname struct{ release, machine string }

func unameFacts() uname {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return uname{}
	}
	return uname{release: utsString(u.Release[:]), machine: utsString(u.Machine[:])}
}

// utsString converts a NUL-terminated utsname field; its element type is
// int8 or uint8 depending on the architecture.
func utsString[T int8 | uint8](f []T) string {
	b := make([]byte, 0, len(f))
	for _, c := range f {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// memoryMB reads MemTotal (in kB) from /proc/meminfo.
func memoryMB(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}

// osFamily names the distribution family: debian, redhat, alpine, suse or
// arch, else the distribution's own ID.
func osFamily(osr map[string]string) string {
	ids := append([]string{osr["ID"]}, strings.Fields(osr["ID_LIKE"])...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return "debian"
		case "rhel", "fedora", "centos":
			return "redhat"
		case "alpine", "arch":
			return id
		case "suse", "opensuse":
			return "suse"
		}
	}
	return osr["ID"]
}

// packageManager picks the default package manager: from the distribution
// family first (a Debian host with dnf installed still uses apt), then from
// whichever tool is on PATH.
func packageManager(osr map[string]string) string {
	family := " " + osr["ID"] + " " + osr["ID_LIKE"] + " "
	has := func(cmd string) bool { _, err := exec.LookPath(cmd); return err == nil }
	switch {
	case strings.Contains(family, " debian ") || strings.Contains(family, " ubuntu "):
		return "apt"
	case strings.Contains(family, " alpine "):
		return "apk"
	case strings.Contains(family, " fedora ") || strings.Contains(family, " rhel ") || strings.Contains(family, " centos "):
		if has("dnf") {
			return "dnf"
		}
		return "yum"
	}
	for _, m := range []struct{ cmd, name string }{{"apt-get", "apt"}, {"dnf", "dnf"}, {"yum", "yum"}, {"apk", "apk"}} {
		if has(m.cmd) {
			return m.name
		}
	}
	return ""
}

// serviceManager is systemd when systemd runs as PID 1 (it then creates
// /run/systemd/system), else OpenRC when rc-service exists, else sysvinit.
func serviceManager(systemdDir string) string {
	if st, err := os.Stat(systemdDir); err == nil && st.IsDir() {
		return "systemd"
	}
	if _, err := exec.LookPath("rc-service"); err == nil {
		return "openrc"
	}
	return "sysv"
}
