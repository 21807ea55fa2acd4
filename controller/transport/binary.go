package transport

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/opsmop/opsmop/internal/buildinfo"
)

// workerArches are the architectures the bootstrap script knows, by GOARCH,
// with the names `uname -m` gives for them.
var workerArches = []struct {
	goarch string
	uname  []string
}{
	{"amd64", []string{"x86_64", "amd64"}},
	{"arm64", []string{"aarch64", "arm64"}},
}

// DefaultBinaries finds the worker binary for a GOARCH: the running
// executable when it is a linux binary of that architecture, else a file
// named opsmop-linux-<goarch> next to it (what `make` cross-builds).
func DefaultBinaries(goarch string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == goarch {
		return self, nil
	}
	sib := filepath.Join(filepath.Dir(self), "opsmop-linux-"+goarch)
	if _, err := os.Stat(sib); err != nil {
		return "", fmt.Errorf("no worker binary for linux/%s: %s does not exist (build it with `make`)", goarch, sib)
	}
	return sib, nil
}

// workerBinary is one binary the controller can send, hashed once and
// compressed once per process.
type workerBinary struct {
	path   string
	sha256 string

	gzOnce sync.Once
	gz     []byte
	gzErr  error

	zstOnce sync.Once
	zst     []byte
	zstErr  error
}

var (
	binMu    sync.Mutex
	binCache = map[string]*workerBinary{} // by path
)

// loadBinary hashes the file at path, once per process.
func loadBinary(path string) (*workerBinary, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if b, ok := binCache[path]; ok {
		return b, nil
	}
	sum, err := buildinfo.FileHash(path)
	if err != nil {
		return nil, err
	}
	b := &workerBinary{path: path, sha256: sum}
	binCache[path] = b
	return b, nil
}

// compressed returns the binary compressed with codec ("zstd" or "gzip"),
// computed on first use only: warm runs never pay for it.
func (b *workerBinary) compressed(codec string) ([]byte, error) {
	if codec == codecZstd {
		b.zstOnce.Do(func() { b.zst, b.zstErr = zstdFile(b.path) })
		return b.zst, b.zstErr
	}
	b.gzOnce.Do(func() { b.gz, b.gzErr = gzipFile(b.path) })
	return b.gz, b.gzErr
}

// The codecs a host can ask for. zstd decompresses about ten times faster
// than gzip, which is most of a cold start's host CPU; gzip is everywhere.
const (
	codecZstd = "zstd"
	codecGzip = "gzip"
)

func zstdFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open worker binary: %w", err)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil), nil
}

func gzipFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open worker binary: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	// BestSpeed: on a 17 MB binary, 0.17s for 9.6 MB against 0.49s for
	// 9.0 MB at the default level; every cold host waits for this once.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, f); err != nil {
		return nil, fmt.Errorf("compress worker binary %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress worker binary %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// binarySet is what one dial can offer: a binary per architecture, and for
// the architectures it cannot serve, why not.
type binarySet struct {
	byArch  map[string]*workerBinary // by GOARCH
	missing map[string]error         // by GOARCH
}

func resolveBinaries(find func(goarch string) (string, error)) (*binarySet, error) {
	if find == nil {
		find = DefaultBinaries
	}
	set := &binarySet{byArch: map[string]*workerBinary{}, missing: map[string]error{}}
	for _, a := range workerArches {
		path, err := find(a.goarch)
		if err != nil {
			set.missing[a.goarch] = err
			continue
		}
		b, err := loadBinary(path)
		if err != nil {
			set.missing[a.goarch] = err
			continue
		}
		set.byArch[a.goarch] = b
	}
	if len(set.byArch) == 0 {
		return nil, fmt.Errorf("no worker binary for any architecture: %v", set.missing[runtime.GOARCH])
	}
	return set, nil
}

func (s *binarySet) bySHA(sum string) *workerBinary {
	for _, b := range s.byArch {
		if b.sha256 == sum {
			return b
		}
	}
	return nil
}

// hashes maps GOARCH to sha256 for the script.
func (s *binarySet) hashes() map[string]string {
	m := map[string]string{}
	for a, b := range s.byArch {
		m[a] = b.sha256
	}
	return m
}

// archError explains a host architecture no binary is available for.
func (s *binarySet) archError(uname string) error {
	for _, a := range workerArches {
		for _, u := range a.uname {
			if u == uname {
				if err := s.missing[a.goarch]; err != nil {
					return fmt.Errorf("host architecture is %s (linux/%s): %w", uname, a.goarch, err)
				}
			}
		}
	}
	return fmt.Errorf("host architecture %s is not supported (opsmop builds linux/amd64 and linux/arm64)", uname)
}
