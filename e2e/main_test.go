package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The binary under test is built once per test process, the way `make build`
// builds it (static, CGO_ENABLED=0), into a directory TestMain removes.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opsmop-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create binary dir:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// opsmopBinary returns the path of the opsmop binary built from this tree,
// building it on first use; tests that only need other things pay nothing.
// A failed build fails every test that asks for the binary. With -short the
// end-to-end tests are skipped: they build and run the real binary.
func opsmopBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the opsmop binary; skipped with -short")
	}
	buildOnce.Do(func() { binPath, buildErr = buildBinary(binDir) })
	if buildErr != nil {
		t.Fatalf("build opsmop: %v", buildErr)
	}
	return binPath
}

// buildBinary builds opsmop as a release is built, `make build`: with the
// worker-only build embedded, which is what it uploads to hosts.
func buildBinary(dir string) (string, error) {
	cmd := exec.Command("make", "-s", "-C", "..", "build", "BIN="+dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build: %w\n%s", err, msg)
	}
	return filepath.Join(dir, "opsmop"), nil
}
