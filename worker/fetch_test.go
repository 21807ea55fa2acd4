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
	// Read is what io.ReadAll uses; WriteTo is what io.Copy to a file
	// uses. Both must deliver the same bytes and the same errors.
	readers := map[string]func(io.Reader) ([]byte, error){
		"Read": io.ReadAll,
		"WriteTo": func(r io.Reader) ([]byte, error) {
			var buf strings.Builder
			_, err := r.(io.WriterTo).WriteTo(&buf)
			return []byte(buf.String()), err
		},
	}
	for _, tt := range tests {
		for how, readAll := range readers {
			t.Run(tt.name+"/"+how, func(t *testing.T) { testFetch(t, ref, tt.chunks, readAll, tt.want, tt.wantErr) })
		}
	}
}

// testFetch fetches ref from a controller that answers with chunks and
// reads the content with readAll.
func testFetch(t *testing.T, ref protocol.ContentRef, chunks []protocol.FetchChunk, readAll func(io.Reader) ([]byte, error), want, wantErr string) {
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
		for _, c := range chunks {
			in.Send(c)
		}
	}()
	rc, err := fetch(context.Background(), wk, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := readAll(rc)
	if wantErr == "" {
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v", got, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("got %v, want an error containing %q", err, wantErr)
	}
	var mm *ContentMismatchError
	if strings.Contains(t.Name(), "wrong") && !errors.As(err, &mm) {
		t.Fatalf("want a *ContentMismatchError, got %T", err)
	}
}
