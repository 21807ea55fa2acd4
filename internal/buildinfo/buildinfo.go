// Package buildinfo identifies the running binary by the sha256 of its bytes,
// which is how a worker is named in the host's cache and in the handshake.
package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

var (
	once sync.Once
	hash string
	err  error
)

// Hash returns the hex sha256 of the running executable.
func Hash() (string, error) {
	once.Do(func() { hash, err = fileHash(executable()) })
	return hash, err
}

// Executable is the path of the running binary.
func Executable() string { return executable() }

func executable() string {
	p, e := os.Executable()
	if e != nil {
		return os.Args[0]
	}
	return p
}

// FileHash returns the hex sha256 of the file at path: the one sha256 of a
// file the worker, the transport and the benchmarks share.
func FileHash(path string) (string, error) { return fileHash(path) }

func fileHash(path string) (string, error) {
	f, e := os.Open(path)
	if e != nil {
		return "", fmt.Errorf("hash %s: %w", path, e)
	}
	defer f.Close()
	h := sha256.New()
	if _, e := io.Copy(h, f); e != nil {
		return "", fmt.Errorf("hash %s: %w", path, e)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
