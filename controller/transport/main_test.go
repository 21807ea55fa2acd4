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
	if err := buildWorker(fakeWorker); err != nil {
		fmt.Fprintln(os.Stderr, "build test worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildWorker builds the real worker, cmd/opsmop, statically; while that
// does not build (the tree is worked on by several hands), the small
// testdata/fakeworker, which speaks the same handshake. OPSMOP_TEST_WORKER=fake
// forces the latter.
func buildWorker(out string) error {
	build := func(pkg string) error {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v\n%s", pkg, err, stderr.String())
		}
		return nil
	}
	if os.Getenv("OPSMOP_TEST_WORKER") != "fake" {
		err := build("../../cmd/opsmop")
		if err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "cmd/opsmop does not build, testing with testdata/fakeworker: %v\n", err)
	}
	return build("./testdata/fakeworker")
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
