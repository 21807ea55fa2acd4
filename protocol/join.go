package protocol

import (
	"encoding/binary"
	"io"
	"sync"
)

// yamux's frame header: version, type, flags, stream ID, length (a data
// frame's body size), big-endian.
const (
	muxHeaderSize = 12
	muxTypeData   = 0
)

// joinMax is the largest body joined to its header: with the header, one
// SSH packet (32 KiB). A larger body is worth a packet of its own, and not
// worth copying.
const joinMax = 32<<10 - muxHeaderSize

// joinBufs are shared by all connections. A buffer of each connection's
// own, grown to the 256 KiB chunks of a copied file, made an apply to 500
// hosts (BENCH=Scale) peak at 286 MiB instead of 134 MiB.
var joinBufs = sync.Pool{New: func() any { b := make([]byte, 0, muxHeaderSize+joinMax); return &b }}

// joinConn hands yamux's small frames to the connection one write each.
// yamux writes a frame's header and its body apart; over SSH each write is
// a packet of its own, on a pipe a system call, and for sshd a wake-up on
// each side. The header of a data frame with a small body is held back and
// goes out with the body, which yamux writes next from the same goroutine
// (its send loop is the only writer).
type joinConn struct {
	io.ReadWriteCloser
	hdr  [muxHeaderSize]byte
	held bool
}

func (c *joinConn) Write(p []byte) (int, error) {
	if c.held {
		c.held = false
		return c.writeJoined(p)
	}
	if joinable(p) {
		copy(c.hdr[:], p)
		c.held = true
		return len(p), nil
	}
	return c.ReadWriteCloser.Write(p)
}

// writeJoined writes the held header and body p in one write.
func (c *joinConn) writeJoined(p []byte) (int, error) {
	bp := joinBufs.Get().(*[]byte)
	defer joinBufs.Put(bp)
	*bp = append(append((*bp)[:0], c.hdr[:]...), p...)
	if _, err := c.ReadWriteCloser.Write(*bp); err != nil {
		return 0, err
	}
	return len(p), nil
}

// joinable reports whether p is the header of a data frame whose body is
// small enough to join.
func joinable(p []byte) bool {
	if len(p) != muxHeaderSize || p[1] != muxTypeData {
		return false
	}
	n := binary.BigEndian.Uint32(p[8:])
	return n > 0 && n <= joinMax
}
