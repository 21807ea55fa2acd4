package main

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestCompressBoundsWindow: a host's zstd sizes its buffer by the frame's
// window, so the frame must declare windowSize however large the worker.
func TestCompressBoundsWindow(t *testing.T) {
	raw := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(r.IntN(16)) // compressible, like code
	}
	z, err := compress(raw)
	if err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(z); err != nil {
		t.Fatal(err)
	}
	window := h.WindowSize
	if h.SingleSegment { // no window field: the decoder holds the whole content
		window = h.FrameContentSize
	}
	if window > windowSize {
		t.Errorf("frame window %d bytes, want at most %d", window, windowSize)
	}
	zr, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	back, err := zr.DecodeAll(z, nil)
	if err != nil || !bytes.Equal(back, raw) {
		t.Errorf("round trip: %v, equal %v", err, bytes.Equal(back, raw))
	}
}
