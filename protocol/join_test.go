package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
)

// writeLog records each write the connection gets.
type writeLog struct {
	io.ReadWriteCloser
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func muxHeader(typ uint8, length uint32) []byte {
	h := make([]byte, muxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:], 7) // stream
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestJoinConn(t *testing.T) {
	data := muxHeader(muxTypeData, 3)
	big := bytes.Repeat([]byte("b"), joinMax+1)
	tests := []struct {
		name   string
		writes [][]byte
		want   [][]byte
	}{
		{"data frame: header and body in one write", [][]byte{data, []byte("abc")},
			[][]byte{append(bytes.Clone(data), "abc"...)}},
		{"window update: no body, passed on", [][]byte{muxHeader(1, 262144)}, [][]byte{muxHeader(1, 262144)}},
		{"data header without a body (SYN, FIN)", [][]byte{muxHeader(muxTypeData, 0)}, [][]byte{muxHeader(muxTypeData, 0)}},
		{"frames in a row", [][]byte{data, []byte("abc"), muxHeader(1, 9), data, []byte("xyz")},
			[][]byte{append(bytes.Clone(data), "abc"...), muxHeader(1, 9), append(bytes.Clone(data), "xyz"...)}},
		{"a body over one packet goes apart, uncopied", [][]byte{muxHeader(muxTypeData, joinMax+1), big},
			[][]byte{muxHeader(muxTypeData, joinMax+1), big}},
		{"the largest joined body", [][]byte{muxHeader(muxTypeData, joinMax), big[:joinMax]},
			[][]byte{append(muxHeader(muxTypeData, joinMax), big[:joinMax]...)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &writeLog{}
			c := &joinConn{ReadWriteCloser: log}
			for _, w := range tt.writes {
				if n, err := c.Write(w); n != len(w) || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v", len(w), n, err)
				}
			}
			if !slices.EqualFunc(log.writes, tt.want, bytes.Equal) {
				t.Errorf("writes %q, want %q", log.writes, tt.want)
			}
		})
	}
}

// TestCallIsOneWritePerFrame: a whole call, through yamux, reaches the
// connection as one write per frame, never a lone 12-byte data header.
func TestCallIsOneWritePerFrame(t *testing.T) {
	a, b := net.Pipe()
	log := &countingConn{Conn: a}
	client, err := Client(log)
	if err != nil {
		t.Fatal(err)
	}
	server, err := Server(b)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer server.Close()
	go func() {
		in, err := server.Accept()
		if err != nil {
			return
		}
		in.Reply(FactsReply{Facts: map[string]any{"os": "linux"}}, nil)
	}()
	var reply FactsReply
	if err := client.Call(context.Background(), MethodFacts, FactsRequest{}, &reply); err != nil {
		t.Fatal(err)
	}
	writes := log.written()
	for _, w := range writes {
		if joinable(w) {
			t.Fatalf("a data frame's header went out alone: %v", writes)
		}
	}
	if len(writes) == 0 {
		t.Fatal("nothing written")
	}
}

type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) written() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}
