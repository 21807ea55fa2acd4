package workerbin

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		found   bool
		wantErr string
	}{
		{"none", fstest.MapFS{}, false, ""},
		{"good", fstest.MapFS{
			"blobs/opsmop-worker-linux-amd64.sha256": {Data: []byte(sum + "\n")},
			"blobs/opsmop-worker-linux-amd64.zst":    {Data: []byte("z")},
		}, true, ""},
		{"not a sha256", fstest.MapFS{
			"blobs/opsmop-worker-linux-amd64.sha256": {Data: []byte("xyz\n")},
			"blobs/opsmop-worker-linux-amd64.zst":    {Data: []byte("z")},
		}, true, "is not a sha256"},
		{"hash without binary", fstest.MapFS{
			"blobs/opsmop-worker-linux-amd64.sha256": {Data: []byte(sum)},
		}, true, "opsmop-worker-linux-amd64.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, found, err := load(tc.files, "amd64")
			if found != tc.found {
				t.Errorf("found = %v, want %v", found, tc.found)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !found {
				return
			}
			if b.SHA256 != sum || b.GOARCH != "amd64" {
				t.Errorf("blob = %+v", b)
			}
			if z, err := b.Zstd(); err != nil || string(z) != "z" {
				t.Errorf("Zstd() = %q, %v; want \"z\"", z, err)
			}
		})
	}
}
