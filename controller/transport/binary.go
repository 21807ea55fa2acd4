package transport

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/opsmop/opsmop/internal/buildinfo"
	"github.com/opsmop/opsmop/internal/workerbin"
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
// compressed once per process. It is a file (the running executable, or a
// sibling built for another architecture) or a build embedded in opsmop
// (internal/workerbin), which comes compressed already.
type workerBinary struct {
	name   string // how errors name it: a path, or the embedded build
	sha256 string
	read   func() ([]byte, error) // the uncompressed binary
	// zstSource gives the zstd form where it exists already (an embedded
	// build); without it, compressed makes it from read.
	zstSource func() ([]byte, error)

	gz, zst memo // the upload: the size on a line, then the compressed binary
}

// memo is a value computed on first use only.
type memo struct {
	once sync.Once
	data []byte
	err  error
}

func (m *memo) get(compute func() ([]byte, error)) ([]byte, error) {
	m.once.Do(func() { m.data, m.err = compute() })
	return m.data, m.err
}

var (
	binMu    sync.Mutex
	binCache = map[string]*workerBinary{} // by path, or "embedded:<goarch>"
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
	b := fileBinary(path, sum)
	binCache[path] = b
	return b, nil
}

func fileBinary(path, sum string) *workerBinary {
	read := func() ([]byte, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("open worker binary: %w", err)
		}
		return data, nil
	}
	return &workerBinary{name: path, sha256: sum, read: read}
}

// embeddedBinary is a build opsmop carries: its zstd form is sent as is,
// and only a host without zstd costs a decompression (to gzip it).
func embeddedBinary(blob workerbin.Blob) *workerBinary {
	b := &workerBinary{name: "the embedded linux/" + blob.GOARCH + " worker", sha256: blob.SHA256, zstSource: blob.Zstd}
	b.read = func() ([]byte, error) {
		z, err := b.compressed(codecZstd)
		if err != nil {
			return nil, err
		}
		return unzstd(z)
	}
	return b
}

// compressed returns the binary compressed with codec ("zstd" or "gzip"),
// computed on first use only: warm runs never pay for it. It is the
// upload without its size line.
func (b *workerBinary) compressed(codec string) ([]byte, error) {
	up, err := b.upload(codec)
	if err != nil {
		return nil, err
	}
	_, z, _ := bytes.Cut(up, []byte("\n"))
	return z, nil
}

// upload is what a cold host that asked for codec is sent: the size on a
// line, then the compressed binary. Every such host gets the same bytes, so
// they are put together once: a copy per host cost the controller 0.7 ms
// and 1.5 MB of fresh memory each (CPU profile of 50 cold hosts).
func (b *workerBinary) upload(codec string) ([]byte, error) {
	m, compress := &b.gz, func() ([]byte, error) { return b.withRaw(gzipBytes) }
	if codec == codecZstd {
		m, compress = &b.zst, b.zstdForm
	}
	return m.get(func() ([]byte, error) {
		z, err := compress()
		if err != nil {
			return nil, err
		}
		return append([]byte(strconv.Itoa(len(z))+"\n"), z...), nil
	})
}

// zstdForm is the zstd form: an embedded build's as it comes, else made.
func (b *workerBinary) zstdForm() ([]byte, error) {
	if b.zstSource != nil {
		return b.zstSource()
	}
	return b.withRaw(zstdBytes)
}

func (b *workerBinary) withRaw(compress func([]byte) ([]byte, error)) ([]byte, error) {
	raw, err := b.read()
	if err != nil {
		return nil, err
	}
	z, err := compress(raw)
	if err != nil {
		return nil, fmt.Errorf("compress worker binary %s: %w", b.name, err)
	}
	return z, nil
}

// The codecs a host can ask for. zstd decompresses about ten times faster
// than gzip, which is most of a cold start's host CPU; gzip is everywhere.
const (
	codecZstd = "zstd"
	codecGzip = "gzip"
)

func zstdBytes(raw []byte) ([]byte, error) {
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	defer zw.Close()
	return zw.EncodeAll(raw, nil), nil
}

func unzstd(z []byte) ([]byte, error) {
	zr, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	raw, err := zr.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress the embedded worker: %w", err)
	}
	return raw, nil
}

func gzipBytes(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	// BestSpeed: on a 17 MB binary, 0.17s for 9.6 MB against 0.49s for
	// 9.0 MB at the default level; every cold host waits for this once.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// binarySet is what one dial can offer: a binary per architecture, and for
// the architectures it cannot serve, why not.
type binarySet struct {
	byArch  map[string]*workerBinary // by GOARCH
	missing map[string]error         // by GOARCH
}

// resolveBinaries finds a binary per architecture: with find nil, the
// build embedded in opsmop where there is one, else DefaultBinaries; with
// find set (tests, SSHOptions.Binaries), only what find says.
func resolveBinaries(find func(goarch string) (string, error)) (*binarySet, error) {
	embedded := find == nil
	if find == nil {
		find = DefaultBinaries
	}
	set := &binarySet{byArch: map[string]*workerBinary{}, missing: map[string]error{}}
	for _, a := range workerArches {
		if b, ok := embeddedFor(a.goarch, embedded); ok {
			set.byArch[a.goarch] = b
			continue
		}
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

// embeddedFor is the embedded build for goarch, when wanted and present,
// read once per process: every host of a run shares it. A release whose
// embedded files are damaged falls back to the files.
func embeddedFor(goarch string, wanted bool) (*workerBinary, bool) {
	if !wanted {
		return nil, false
	}
	binMu.Lock()
	defer binMu.Unlock()
	key := "embedded:" + goarch
	if b, ok := binCache[key]; ok {
		return b, b != nil
	}
	blob, ok, err := workerbin.Lookup(goarch)
	if !ok || err != nil {
		binCache[key] = nil
		return nil, false
	}
	b := embeddedBinary(blob)
	binCache[key] = b
	return b, true
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
