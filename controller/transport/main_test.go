package transport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeWorker is a worker binary built for the tests: cmd/opsmop when it
// builds, else testdata/fakeworker (answers the handshake only).
var fakeWorker string

func TestMain(m *testing.M) {
	if cfg := os.Getenv("OPSMOP_TRANSPORT_HELPER"); cfg != "" {
		os.Exit(helperMain(cfg))
	}
	dir, err := os.MkdirTemp("", "opsmop-transport-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeWorker = filepath.Join(dir, "opsmop")
	cmd := exec.Command("go", "build", "-o", fakeWorker, "./testdata/fakeworker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testBinaries serves the test worker for this machine's architecture.
func testBinaries(goarch string) (string, error) {
	if goarch == runtime.GOARCH {
		return fakeWorker, nil
	}
	return "", fmt.Errorf("no test worker for %s", goarch)
}

// testLog sends log lines to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
