package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// TestFetchChunks drives the worker's fetch reader against controllers
// that answer with the given chunks.
func TestFetchChunks(t *testing.T) {
	content := []byte("hello, fetched world")
	ref := protocol.ContentRef{SHA256: sha(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		chunks  []protocol.FetchChunk
		want    string
		wantErr string
	}{
		{"one chunk then EOF", []protocol.FetchChunk{{Data: content}, {EOF: true}}, string(content), ""},
		{"data in the EOF chunk", []protocol.FetchChunk{{Data: content[:5]}, {Data: content[5:], EOF: true}}, string(content), ""},
		{"empty chunks are fine", []protocol.FetchChunk{{}, {Data: content}, {}, {EOF: true}}, string(content), ""},
		{"wrong bytes, right size", []protocol.FetchChunk{{Data: []byte(strings.ToUpper(string(content)))}, {EOF: true}}, "", "sha256 is"},
		{"too short", []protocol.FetchChunk{{Data: content[:3]}, {EOF: true}}, "", "got 3 bytes, want 20"},
		{"too long", []protocol.FetchChunk{{Data: append(content, '!')}}, "", "got 21 bytes, want 20"},
		{"controller error", []protocol.FetchChunk{{Err: "no content with sha256 x"}}, "", "controller: no content with sha256 x"},
		{"stream ends early", []protocol.FetchChunk{{Data: content[:4]}}, "", "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			ctl, err := protocol.Client(a)
			if err != nil {
				t.Fatal(err)
			}
			wk, err := protocol.Server(b)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ctl.Close(); wk.Close() })
			go func() {
				in, err := ctl.Accept()
				if err != nil {
					return
				}
				defer in.Close()
				var req protocol.FetchRequest
				if in.Decode(&req) != nil || req.SHA256 != ref.SHA256 {
					in.Send(protocol.FetchChunk{Err: "bad request"})
					return
				}
				for _, c := range tt.chunks {
					in.Send(c)
				}
			}()
			rc, err := fetch(context.Background(), wk, ref)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if tt.wantErr == "" {
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			var mm *ContentMismatchError
			if strings.Contains(tt.name, "wrong") && !errors.As(err, &mm) {
				t.Fatalf("want a *ContentMismatchError, got %T", err)
			}
		})
	}
}
