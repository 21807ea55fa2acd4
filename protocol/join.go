package protocol

import (
	"encoding/binary"
	"io"
)

// yamux's frame header: version, type, flags, stream ID, length (a data
// frame's body size), big-endian.
const (
	muxHeaderSize = 12
	muxTypeData   = 0
)

// joinConn hands yamux's frames to the connection one write each. yamux
// writes a frame's header and its body apart; over SSH each write is a
// packet of its own, on a pipe a system call, and for sshd a wake-up on
// each side. The header of a data frame with a body is held back and goes
// out with the body, which yamux writes next from the same goroutine (its
// send loop is the only writer).
type joinConn struct {
	io.ReadWriteCloser
	hdr  [muxHeaderSize]byte
	held bool
	buf  []byte
}

func (c *joinConn) Write(p []byte) (int, error) {
	if c.held {
		c.held = false
		c.buf = append(append(c.buf[:0], c.hdr[:]...), p...)
		if _, err := c.ReadWriteCloser.Write(c.buf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if dataHeaderWithBody(p) {
		copy(c.hdr[:], p)
		c.held = true
		return len(p), nil
	}
	return c.ReadWriteCloser.Write(p)
}

func dataHeaderWithBody(p []byte) bool {
	return len(p) == muxHeaderSize && p[1] == muxTypeData && binary.BigEndian.Uint32(p[8:]) > 0
}
