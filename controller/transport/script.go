package transport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Lines the bootstrap script prints on stdout before the worker takes over.
const (
	lineReady = "OPSMOP-READY" // OPSMOP-READY [<sha256>]: every byte after this line is the worker's
	lineNeed  = "OPSMOP-NEED"  // OPSMOP-NEED <sha256>: send "<n>\n" and n bytes of gzip
	lineArch  = "OPSMOP-ARCH"  // OPSMOP-ARCH <uname -m>: no binary for this host
	lineErr   = "OPSMOP-ERR"   // OPSMOP-ERR <message>: the script gave up
	// OPSMOP-SCRIPT: sudo has let the command run and it reads the script
	// from stdin; only when a password or a terminal is involved.
	lineScript = "OPSMOP-SCRIPT"
)

// archFile holds the machine name on Linux 6.1 and later; a variable so a
// test can take it away, as an older kernel does.
var archFile = "/proc/sys/kernel/arch"

// sudoSpec says how the worker is started under sudo.
type sudoSpec struct {
	Enabled  bool
	User     string // default root
	Password bool   // -S with our prompt when true, -n when false
	Prompt   string
}

// targetUser is the user sudo runs the worker as.
func (s sudoSpec) targetUser() string {
	if s.User == "" {
		return "root"
	}
	return s.User
}

// bootScript is the sh script that runs on the host. The cache is in the
// worker user's home, used only if it is a real directory that user owns
// (not, say, one another user made where a sudo that keeps HOME points);
// a user without a usable home (nobody, some system users) gets a 0700
// directory of its own in $TMPDIR or /tmp, on the same condition. A cold start also
// clears out what earlier builds left in the cache more than a week ago, so
// the cache does not grow by a worker per release forever. It is sent whole in
// the exec request, so a warm start is a single exchange. The worker starts
// with GOMAXPROCS=1 in its environment: it waits on pipes and children, and
// a Go runtime that starts with one P makes fewer threads and page faults
// (a worker start on its own: 2.07 ms of CPU and 359 page faults with two
// Ps, 1.44 ms and 256 with one); the worker takes the variable out of its
// environment again, so commands do not inherit it. The whole script is one
// brace group: a shell reading it from stdin must parse all of it before it
// runs any of it, so nothing it reads ahead can be what the controller
// sends later (the size line, the binary, the worker's stream).
func bootScript(hashes map[string]string) string {
	var b strings.Builder
	b.WriteString("{\nset -u\numask 077\n")
	// openssl uses the CPU's SHA instructions: several times faster than
	// coreutils' sha256sum, which matters since every start hashes the
	// cached worker. sha256sum is the fallback where openssl is missing.
	// A command in a variable, not a function: a function in `...` costs
	// the shell a second fork. It runs with OPENSSL_CONF=/dev/null: a digest
	// needs nothing from the system's openssl.cnf, whose parsing was 0.3-0.5
	// ms of openssl's 5-6 (perf stat -r 100, three alternate pairs).
	b.WriteString("if command -v openssl >/dev/null 2>&1; then sha=\"openssl dgst -sha256 -r\"; else sha=sha256sum; fi\n")
	// The machine name as `uname -m` gives it; Linux 6.1 and later also
	// publish it in /proc, which the shell reads without starting a process.
	b.WriteString("read m <" + archFile + " 2>/dev/null || m=`uname -m`\ncase $m in\n")
	arches := make([]string, 0, len(hashes))
	for a := range hashes {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, a := range arches {
		for _, wa := range workerArches {
			if wa.goarch == a {
				fmt.Fprintf(&b, "%s) h=%s ;;\n", strings.Join(wa.uname, "|"), hashes[a])
			}
		}
	}
	b.WriteString("*) echo \"" + lineArch + " $m\"; exit 90 ;;\nesac\n")
	// f is set when the script made the cache itself (0700 by the umask,
	// empty): a first start then needs neither the chmod of a directory
	// that existed before nor the sweep of earlier builds, three processes
	// of a cold start.
	b.WriteString(`d=$HOME/.cache/opsmop
f=
[ -d "$d" ] || { mkdir -p "$d" 2>/dev/null && f=1; }
if [ ! -d "$d" ] || [ -L "$d" ] || [ ! -O "$d" ]; then
d=${TMPDIR:-/tmp}/opsmop-` + "`id -u`" + `
f=
mkdir -m 700 "$d" 2>/dev/null && f=1
[ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] || { echo "` + lineErr + ` no safe cache: $HOME/.cache/opsmop is not a directory of ours, nor is $d"; exit 91; }
fi
b=$d/opsmop-$h
if [ -x "$b" ]; then s=` + "`OPENSSL_CONF=/dev/null $sha \"$b\"`" + `; [ "${s%% *}" = "$h" ] || rm -f "$b"; fi
if [ ! -x "$b" ]; then
[ -n "$f" ] || chmod 700 "$d" || { echo "` + lineErr + ` cannot make $d private"; exit 91; }
t=$d/.opsmop-$h.$$
if command -v zstd >/dev/null 2>&1; then z=zstd; else z=gzip; fi
echo "` + lineNeed + ` $h $z"
read n || exit 92
`)
	// sshd keeps in its own heap what stdin's 64 KiB pipe cannot take, and
	// the compressed worker comes faster than head and zstd drain it: a
	// cold start cost sshd 16-18 ms of CPU over the floor's. Only a process
	// holding the pipe can widen it (F_SETPIPE_SZ, 1031 on every Linux
	// architecture), and sh cannot; perl, where it is, can, for 1.6 ms.
	// 1 MiB is Linux's default pipe-max-size. The worker widens the same
	// pipe again when it starts, for what it is sent later.
	b.WriteString(`command -v perl >/dev/null 2>&1 && perl -e "fcntl STDIN,1031,1<<20"
`)
	b.WriteString(`head -c "$n" | $z -dc >"$t"
s=` + "`OPENSSL_CONF=/dev/null $sha \"$t\"`" + `
if [ "${s%% *}" != "$h" ]; then rm -f "$t"; echo "` + lineErr + ` checksum mismatch for $b (received ${s%% *})"; exit 93; fi
chmod 700 "$t" && mv -f "$t" "$b" || { rm -f "$t"; echo "` + lineErr + ` cannot install $b"; exit 94; }
[ -n "$f" ] || find "$d" -maxdepth 1 -type f ! -name "opsmop-$h" \( -name "opsmop-*" -o -name ".opsmop-*" -o -name "worker-*.log" \) -mtime +7 -exec rm -f {} + 2>/dev/null
fi
echo "` + lineReady + ` $h"
GOMAXPROCS=1; export GOMAXPROCS
exec "$b" worker --build-sha256 "$h"
}
`)
	return b.String()
}

// start is how a host is asked to run the bootstrap script.
type start struct {
	command string // the exact command line of the SSH exec request
	script  string // sent on stdin
	// atMarker: send the script when the host prints OPSMOP-SCRIPT, not
	// at once, as sudo may read a password from stdin first, or stdin is
	// a terminal.
	atMarker bool
}

// remoteStart says how to run the script on a host. The script goes on
// stdin, not in the command line: sudo logs the command line of every run
// (in syslog lines of 960 bytes, so the 1.8 KB script was three of them
// for every host and run) and ps shows it. sshd runs the command with the
// login user's shell: any Bourne-style shell (sh, bash, dash, ksh, zsh) or
// fish 3.1 and later; csh has no VAR=value prefix for sudoPrefix's LC_ALL.
func remoteStart(hashes map[string]string, sudo sudoSpec, tty bool) start {
	st := start{script: bootScript(hashes), atMarker: sudo.Password || tty}
	if !st.atMarker {
		// Nothing else reads stdin before sh: the script can go at once.
		st.command = sudoPrefix(sudo) + "sh -s"
		return st
	}
	// head reads exactly the script, whether stdin is a pipe or a terminal
	// (where sh -s would be an interactive shell).
	stage0 := "echo " + lineScript + `; eval "$(head -c ` + strconv.Itoa(len(st.script)) + `)"`
	st.command = sudoPrefix(sudo) + "sh -c " + shellQuote(stage0)
	return st
}

// sudoPrefix wraps a command in sudo. LC_ALL=C makes sudo's own messages
// (requiretty, "a password is required") predictable; the password prompt
// is recognised by our own -p string, so it never depends on the language.
// The assignment is the shell's, not env's: one process less per start.
func sudoPrefix(s sudoSpec) string {
	if !s.Enabled {
		return ""
	}
	user := s.targetUser()
	if s.Password {
		return "LC_ALL=C sudo -S -p " + shellQuote(s.Prompt) + " -u " + shellQuote(user) + " -- "
	}
	return "LC_ALL=C sudo -n -u " + shellQuote(user) + " -- "
}

// localSudoArgv is the argv that starts a local worker (binary, then args)
// under sudo. The inner sh prints the ready line once sudo has let it run.
func localSudoArgv(binary string, args []string, s sudoSpec) []string {
	user := s.targetUser()
	argv := []string{"sudo"}
	if s.Password {
		argv = append(argv, "-S", "-p", s.Prompt)
	} else {
		argv = append(argv, "-n")
	}
	argv = append(argv, "-u", user, "--", "/bin/sh", "-c", "echo "+lineReady+`; exec "$0" "$@"`, binary)
	return append(argv, args...)
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newPrompt makes a sudo prompt no host message can be mistaken for.
func newPrompt() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return "[opsmop-sudo-" + hex.EncodeToString(b[:]) + "]:"
}

// readyLine says whether line is the ready line, and the sha256 of the
// worker it names (empty for a local worker, which is our own binary).
func readyLine(line string) (sha string, ok bool) {
	line = strings.TrimRight(line, "\r")
	if line == lineReady {
		return "", true
	}
	if sha, ok := strings.CutPrefix(line, lineReady+" "); ok {
		return sha, true
	}
	return "", false
}
