package workerbin

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// Dir is where pack writes the builds, relative to this package.
const Dir = "blobs"

// Arches are the architectures a release carries a worker for.
var Arches = []string{"amd64", "arm64"}

// Blob is one embedded worker build.
type Blob struct {
	GOARCH string
	SHA256 string // of the uncompressed binary: its name in the hosts' caches
	// Zstd reads the binary, zstd-compressed as hosts receive it. Only a
	// cold host needs it, so it is not copied out of the executable before
	// one does: a warm run of 50 hosts allocated 2.7 MB less (both
	// architectures' builds) and faulted in that much less memory.
	Zstd func() ([]byte, error)
}

// ZstdName and SHA256Name are the files pack writes for goarch.
func ZstdName(goarch string) string   { return "opsmop-worker-linux-" + goarch + ".zst" }
func SHA256Name(goarch string) string { return "opsmop-worker-linux-" + goarch + ".sha256" }

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// load reads goarch's build from fsys; found is false when it has none.
func load(fsys fs.FS, goarch string) (b Blob, found bool, err error) {
	sum, err := fs.ReadFile(fsys, Dir+"/"+SHA256Name(goarch))
	if err != nil {
		return Blob{}, false, nil
	}
	h := strings.TrimSpace(string(sum))
	if !hexSHA256.MatchString(h) {
		return Blob{}, true, fmt.Errorf("embedded worker for linux/%s: %s is not a sha256: %q", goarch, SHA256Name(goarch), h)
	}
	name := Dir + "/" + ZstdName(goarch)
	if _, err := fs.Stat(fsys, name); err != nil {
		return Blob{}, true, fmt.Errorf("embedded worker for linux/%s: %w", goarch, err)
	}
	read := func() ([]byte, error) {
		z, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("embedded worker for linux/%s: %w", goarch, err)
		}
		return z, nil
	}
	return Blob{GOARCH: goarch, SHA256: h, Zstd: read}, true, nil
}

// Lookup returns the embedded worker build for goarch; found is false when
// this opsmop carries none (built without the tag, or not for goarch).
func Lookup(goarch string) (b Blob, found bool, err error) {
	if embedded == nil {
		return Blob{}, false, nil
	}
	return load(embedded, goarch)
}
