package worker

import (
	"os"
	"testing"

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
