package worker

import (
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPrepareStdioWidensStdinPipe: on an SSH session stdin is sshd's pipe,
// and a wide pipe spares sshd buffering what we are sent in its own heap.
func TestPrepareStdioWidensStdinPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if before, _ := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0); before >= pipeSize {
		t.Fatalf("a new pipe holds %d bytes already; the test shows nothing", before)
	}
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin }()
	logTo, restore, err := PrepareStdio()
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if logTo != os.Stderr {
		t.Errorf("logs go to %v, want stderr", logTo)
	}
	got, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got != pipeSize {
		t.Errorf("stdin pipe holds %d bytes, want %d", got, pipeSize)
	}
}

// TestPollableStdio: a pipe on stdin or stdout is handed to Go's poller,
// which a deadline proves (a blocking file has none), and still carries
// the bytes.
func TestPollableStdio(t *testing.T) {
	// As a child inherits it: a blocking descriptor the poller never saw.
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	w := os.NewFile(uintptr(fds[1]), "w")
	defer w.Close()
	blocking := os.NewFile(uintptr(fds[0]), "stdin")
	if err := blocking.SetReadDeadline(time.Now()); err == nil {
		t.Fatal("a blocking pipe took a deadline; the test shows nothing")
	}
	defer blocking.Close()
	p := pollable(blocking)
	if p == blocking {
		t.Fatal("pollable returned the blocking file")
	}
	defer p.Close()
	if err := p.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("pollable(stdin) takes no deadline: %v", err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := p.Read(buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
