package protocol

import (
	"bufio"
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

// NewCodec wraps rw.
func NewCodec(rw io.ReadWriter) *Codec {
	return &Codec{r: bufio.NewReaderSize(rw, 64<<10), w: rw}
}

// Send encodes v as one frame.
func (c *Codec) Send(v any) error {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return c.SendRaw(body)
}

// SendRaw writes already-encoded bytes as one frame.
func (c *Codec) SendRaw(body []byte) error {
	if len(body) > MaxFrame {
		return ErrFrameTooLarge
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if _, err := c.w.Write(append(hdr[:], body...)); err != nil {
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
