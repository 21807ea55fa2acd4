package protocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxFrame bounds one frame so that a corrupt length prefix cannot make a
// peer allocate gigabytes. File content travels in chunks well below it.
const MaxFrame = 16 << 20

// ErrFrameTooLarge is returned for a frame whose length prefix exceeds MaxFrame.
var ErrFrameTooLarge = errors.New("protocol: frame exceeds size limit")

// Codec reads and writes length-prefixed msgpack frames on one stream.
// Send is safe for concurrent use; Recv is not.
type Codec struct {
	r   *bufio.Reader
	w   io.Writer
	wmu sync.Mutex
	buf []byte
}

// readBufSize is the read buffer of a Codec. Small frames (events,
// replies) are read through it; a frame body larger than it is read straight
// into the frame buffer, so a bigger one would only cost memory on every
// stream.
const readBufSize = 4 << 10

// NewCodec wraps rw.
func NewCodec(rw io.ReadWriter) *Codec {
	return &Codec{r: bufio.NewReaderSize(rw, readBufSize), w: rw}
}

// sendBufs hold frames being sent: length prefix and body in one buffer, so
// a frame is one write (one yamux data frame) and the body is encoded in
// place rather than copied behind the prefix.
var sendBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps a rare huge frame's buffer from staying in the pool.
const maxPooledBuf = 1 << 20

func getSendBuf() *bytes.Buffer {
	b := sendBufs.Get().(*bytes.Buffer)
	b.Reset()
	b.Write([]byte{0, 0, 0, 0}) // the length prefix, set by writeFrame
	return b
}

func putSendBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		sendBufs.Put(b)
	}
}

// Send encodes v as one frame.
func (c *Codec) Send(v any) error {
	buf := getSendBuf()
	defer putSendBuf(buf)
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return c.writeFrame(buf.Bytes())
}

// SendRaw writes already-encoded bytes as one frame.
func (c *Codec) SendRaw(body []byte) error {
	if len(body) > MaxFrame {
		return ErrFrameTooLarge
	}
	buf := getSendBuf()
	defer putSendBuf(buf)
	buf.Write(body)
	return c.writeFrame(buf.Bytes())
}

// writeFrame fills in the length prefix of frame (4 bytes, then the body)
// and writes it.
func (c *Codec) writeFrame(frame []byte) error {
	n := len(frame) - 4
	if n > MaxFrame {
		return ErrFrameTooLarge
	}
	binary.BigEndian.PutUint32(frame[:4], uint32(n))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(frame); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// RecvRaw reads one frame and returns its bytes, valid until the next call.
func (c *Codec) RecvRaw() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, ErrFrameTooLarge
	}
	if cap(c.buf) < int(n) {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	if _, err := io.ReadFull(c.r, c.buf); err != nil {
		return nil, fmt.Errorf("read frame body: %w", noEOF(err))
	}
	return c.buf, nil
}

// Recv reads one frame and decodes it into v.
func (c *Codec) Recv(v any) error {
	body, err := c.RecvRaw()
	if err != nil {
		return err
	}
	if err := msgpack.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// noEOF turns a clean EOF in the middle of a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
