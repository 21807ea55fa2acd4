package transport

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/opsmop/opsmop/internal/workerbin"
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
	want, _ := os.ReadFile(fakeWorker)
	decoders := map[string]func([]byte) ([]byte, error){
		codecGzip: func(z []byte) ([]byte, error) {
			zr, err := gzip.NewReader(bytes.NewReader(z))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(zr)
		},
		codecZstd: func(z []byte) ([]byte, error) {
			zr, err := zstd.NewReader(nil)
			if err != nil {
				return nil, err
			}
			defer zr.Close()
			return zr.DecodeAll(z, nil)
		},
	}
	for codec, decode := range decoders {
		t.Run(codec, func(t *testing.T) {
			z1, err := b.compressed(codec)
			if err != nil {
				t.Fatal(err)
			}
			z2, _ := b.compressed(codec)
			if &z1[0] != &z2[0] {
				t.Error("binary compressed twice")
			}
			plain, err := decode(z1)
			if err != nil || !bytes.Equal(plain, want) {
				t.Fatalf("%s does not round-trip to the binary: %v", codec, err)
			}
			t.Logf("worker %d bytes, %s %d bytes", len(want), codec, len(z1))
			up1, err := b.upload(codec)
			if err != nil {
				t.Fatal(err)
			}
			if head := strconv.Itoa(len(z1)) + "\n"; !bytes.Equal(up1, append([]byte(head), z1...)) {
				t.Errorf("upload is not %q and the %s binary", head, codec)
			}
			if up2, _ := b.upload(codec); &up1[0] != &up2[0] {
				t.Error("upload put together twice")
			}
		})
	}
}

func TestNeedArgs(t *testing.T) {
	tests := []struct{ arg, sha, codec string }{
		{"abc zstd", "abc", codecZstd},
		{"abc gzip", "abc", codecGzip},
		{"abc", "abc", codecGzip},
		{" abc  ", "abc", codecGzip},
		{"abc lzma", "abc", codecGzip},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			if sha, codec := needArgs(tt.arg); sha != tt.sha || codec != tt.codec {
				t.Fatalf("needArgs(%q) = %q, %q", tt.arg, sha, codec)
			}
		})
	}
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

// TestEmbeddedBinary: an embedded build goes to zstd hosts exactly as
// packed, and to gzip hosts as the same binary, gzipped.
func TestEmbeddedBinary(t *testing.T) {
	raw, err := os.ReadFile(fakeWorker)
	if err != nil {
		t.Fatal(err)
	}
	packed, err := zstdBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	b := embeddedBinary(workerbin.Blob{GOARCH: "arm64", SHA256: "abc", Zstd: func() ([]byte, error) {
		reads++
		return packed, nil
	}})
	if reads != 0 {
		t.Errorf("the build was read %d times before a host needed it", reads)
	}
	if b.sha256 != "abc" || !strings.Contains(b.name, "embedded linux/arm64") {
		t.Errorf("sha256 %q, name %q", b.sha256, b.name)
	}
	z, err := b.compressed(codecZstd)
	if err != nil || !bytes.Equal(z, packed) {
		t.Fatalf("zstd form is not the packed bytes: %v", err)
	}
	gz, err := b.compressed(codecGzip)
	if err != nil {
		t.Fatal(err)
	}
	if reads != 1 {
		t.Errorf("the build was read %d times, want once per process", reads)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, raw) {
		t.Fatalf("gzip form does not round-trip to the binary: %v", err)
	}
}

func TestEmbeddedBinaryDamaged(t *testing.T) {
	b := embeddedBinary(workerbin.Blob{GOARCH: "amd64", SHA256: "abc", Zstd: func() ([]byte, error) { return []byte("not zstd"), nil }})
	if _, err := b.compressed(codecGzip); err == nil || !strings.Contains(err.Error(), "decompress the embedded worker") {
		t.Fatalf("err = %v, want a decompression error", err)
	}
}

// TestResolveBinariesFindWins: a caller's find (tests, SSHOptions.Binaries)
// is used even in a build that embeds workers.
func TestResolveBinariesFindWins(t *testing.T) {
	set, err := resolveBinaries(func(string) (string, error) { return fakeWorker, nil })
	if err != nil {
		t.Fatal(err)
	}
	for arch, b := range set.byArch {
		if b.name != fakeWorker {
			t.Errorf("%s: binary %s, want %s", arch, b.name, fakeWorker)
		}
	}
}
