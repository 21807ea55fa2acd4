package worker

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// PrepareStdio readies the worker's stdin/stdout for the protocol stream
// and says where log lines go.
//
// Normally stdin and stdout are pipes (a local child, or an SSH session
// without a terminal): stdin is widened (widenPipe) and logs go to stderr,
// which the controller reads as log lines.
//
// When sudo's requiretty forced the controller to ask for a pseudo-terminal,
// stdin is a terminal and stdout and stderr are the same terminal. sshd
// already created it in raw mode at the controller's request; MakeRaw makes
// sure (sudo's use_pty may have put another terminal in between). Logs then
// go to a file in the worker's cache directory, since anything written to
// stderr would corrupt the stream. restore puts the terminal back.
func PrepareStdio() (logTo io.Writer, restore func(), err error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		widenPipe(fd)
		return os.Stderr, func() {}, nil
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, nil, fmt.Errorf("set terminal raw mode: %w", err)
	}
	restore = func() { term.Restore(fd, old) }
	dir := filepath.Join(os.TempDir(), "opsmop")
	if home, herr := os.UserHomeDir(); herr == nil {
		dir = filepath.Join(home, ".cache", "opsmop")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		restore()
		return nil, nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("worker-%d.log", os.Getpid())), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		restore()
		return nil, nil, fmt.Errorf("open worker log: %w", err)
	}
	return f, func() { f.Close(); os.Remove(f.Name()); term.Restore(fd, old) }, nil
}

// pipeSize is what widenPipe asks for: Linux's default pipe-max-size, so
// any user may have it.
const pipeSize = 1 << 20

// widenPipe raises the capacity of the pipe on fd from 64 KiB to pipeSize.
// sshd writes the controller's data into our stdin pipe and keeps what the
// pipe cannot take in its own heap, which it grows and shrinks page by page:
// a 64 MiB file copy cost sshd 10% more CPU with the default pipe. Not a
// pipe, or a kernel that refuses: the default stays, which only costs time.
func widenPipe(fd int) {
	unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, pipeSize)
}

// pollable returns f as a non-blocking file that Go's network poller
// drives: waiting for the controller then parks a goroutine instead of
// holding a thread in read(2). While a thread sits in a system call the
// runtime's monitor thread wakes every 20 µs to 10 ms, and each wake-up
// cost 17 µs of CPU on our test VM; with nothing in a system call it
// sleeps. A terminal (sudo's requiretty), or a descriptor that cannot be
// made non-blocking, is returned as it is. The new file has a descriptor
// of its own (a dup): two files on one descriptor would each close it,
// the second time whatever file has taken its number since.
func pollable(f *os.File) *os.File {
	fd := int(f.Fd())
	if term.IsTerminal(fd) {
		return f
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return f
	}
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return f
	}
	return os.NewFile(uintptr(dup), f.Name())
}
