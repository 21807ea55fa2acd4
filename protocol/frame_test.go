package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   any
	}{
		{"hello", Hello{Version: Version, BuildHash: "abc", PID: 7}},
		{"run request", RunRequest{Check: true, Resources: []Resource{{ID: 1, Type: "file", Name: "/x", Params: map[string]any{"mode": int64(0o644)}}}}},
		{"event", Frame{Event: &Event{Kind: EventOutput, ID: 3, Stream: "stdout", Line: "hi"}}},
		{"binary content", FetchChunk{Data: bytes.Repeat([]byte{0, 1, 2}, 1000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := NewCodec(&buf)
			if err := c.Send(tt.in); err != nil {
				t.Fatal(err)
			}
			raw, err := c.RecvRaw()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := marshalForTest(tt.in)
			if !bytes.Equal(raw, want) {
				t.Fatalf("frame body differs from the encoding of %T", tt.in)
			}
		})
	}
}

func marshalForTest(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := NewCodec(&buf).Send(v); err != nil {
		return nil, err
	}
	return buf.Bytes()[4:], nil
}

func TestCodecDecodesFields(t *testing.T) {
	var buf bytes.Buffer
	c := NewCodec(&buf)
	in := Frame{Event: &Event{Kind: EventResult, ID: 9, Result: &Result{Status: StatusChanged, Actions: []string{"create"}, RC: 3}}}
	if err := c.Send(in); err != nil {
		t.Fatal(err)
	}
	var out Frame
	if err := c.Recv(&out); err != nil {
		t.Fatal(err)
	}
	if out.Event == nil || out.Event.ID != 9 || out.Event.Result.Status != StatusChanged || out.Event.Result.RC != 3 || out.Event.Result.Actions[0] != "create" {
		t.Fatalf("decoded %+v", out.Event)
	}
}

func TestCodecErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty stream", nil, io.EOF},
		{"short header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"short body", append(lenPrefix(10), 1, 2, 3), io.ErrUnexpectedEOF},
		{"oversized frame", lenPrefix(MaxFrame + 1), ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCodec(rw{bytes.NewReader(tt.input)}).RecvRaw()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSendRejectsOversizedFrame(t *testing.T) {
	err := NewCodec(&bytes.Buffer{}).SendRaw(make([]byte, MaxFrame+1))
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func lenPrefix(n uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, n)
	return b
}

type rw struct{ io.Reader }

func (rw) Write(p []byte) (int, error) { return len(p), nil }

func FuzzRecv(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0xc0})
	f.Add(append(lenPrefix(3), 0x81, 0xa1, 0x6b))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewCodec(rw{bytes.NewReader(data)})
		for {
			var fr Frame
			if err := c.Recv(&fr); err != nil {
				return
			}
		}
	})
}

// BenchmarkCodecSend measures sending one frame: an event, as the worker
// streams for every resource, and a 256 KiB chunk of fetched content.
func BenchmarkCodecSend(b *testing.B) {
	frames := []struct {
		name string
		v    any
	}{
		{"event", Frame{Event: &Event{Kind: EventResult, ID: 7, Result: &Result{Status: StatusChanged, Changed: true, Actions: []string{"create"}}}}},
		{"chunk", FetchChunk{Data: bytes.Repeat([]byte{1}, FetchChunkSize)}},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			c := NewCodec(rw{bytes.NewReader(nil)})
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Send(f.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
