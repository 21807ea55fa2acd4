package transport

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCompressedOncePerBinary(t *testing.T) {
	b, err := loadBinary(fakeWorker)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := loadBinary(fakeWorker)
	if again != b {
		t.Error("loadBinary hashed the same file twice")
	}
	gz1, err := b.compressed()
	if err != nil {
		t.Fatal(err)
	}
	gz2, _ := b.compressed()
	if &gz1[0] != &gz2[0] {
		t.Error("binary compressed twice")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz1))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(fakeWorker)
	if !bytes.Equal(plain, want) {
		t.Error("gzip does not round-trip to the binary")
	}
	t.Logf("worker %d bytes, gzip %d bytes", len(want), len(gz1))
}

func TestDefaultBinaries(t *testing.T) {
	self, _ := os.Executable()
	if runtime.GOOS == "linux" {
		got, err := DefaultBinaries(runtime.GOARCH)
		if err != nil || got != self {
			t.Errorf("own arch: %s %v, want %s", got, err, self)
		}
	}
	other := "riscv64"
	_, err := DefaultBinaries(other)
	if err == nil || !strings.Contains(err.Error(), "opsmop-linux-riscv64") {
		t.Errorf("missing sibling: err = %v, want it named", err)
	}
	sib := filepath.Join(filepath.Dir(self), "opsmop-linux-"+other)
	if err := os.WriteFile(sib, []byte("x"), 0o755); err != nil {
		t.Skipf("cannot write next to the test binary: %v", err)
	}
	defer os.Remove(sib)
	if got, err := DefaultBinaries(other); err != nil || got != sib {
		t.Errorf("sibling: %s %v, want %s", got, err, sib)
	}
}
