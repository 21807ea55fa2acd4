package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestHashIsTheExecutablesSHA256(t *testing.T) {
	data, err := os.ReadFile(Executable())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	got, err := Hash()
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("Hash() = %s, %v; want %x", got, err, sum)
	}
}

func TestFileHash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o600)
	got, err := FileHash(p)
	if err != nil || got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("FileHash = %s, %v", got, err)
	}
	if _, err := FileHash(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("no error for a missing file")
	}
}
