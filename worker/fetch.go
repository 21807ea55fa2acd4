package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opsmop/opsmop/protocol"
)

// ContentMismatchError means fetched content is not what its reference
// promised: the wrong size or the wrong sha256. Nothing is written then.
type ContentMismatchError struct {
	Want     protocol.ContentRef
	GotSHA   string
	GotBytes int64
}

func (e *ContentMismatchError) Error() string {
	if e.GotBytes != e.Want.Size {
		return fmt.Sprintf("fetched content %.12s: got %d bytes, want %d", e.Want.SHA256, e.GotBytes, e.Want.Size)
	}
	return fmt.Sprintf("fetched content %.12s: sha256 is %.12s", e.Want.SHA256, e.GotSHA)
}

// fetch opens a MethodFetch call to the controller on sess.
//
// The controller answers the call's stream with a sequence of
// protocol.FetchChunk frames (not wrapped in protocol.Frame): each carries
// up to protocol.FetchChunkSize bytes of Data; the last has EOF set, or Err
// set when the controller cannot serve the content. The returned reader
// yields the content as it arrives, so a large file is never held in memory,
// and reports a *ContentMismatchError instead of io.EOF when the size or
// sha256 is wrong: a writer that copies it to a temporary file aborts before
// the rename.
func fetch(ctx context.Context, sess *protocol.Session, ref protocol.ContentRef) (io.ReadCloser, error) {
	st, err := sess.Open(ctx, protocol.MethodFetch, protocol.FetchRequest{SHA256: ref.SHA256})
	if err != nil {
		return nil, fmt.Errorf("fetch %.12s: %w", ref.SHA256, err)
	}
	return &fetchReader{st: st, ref: ref, h: sha256.New()}, nil
}

type fetchReader struct {
	st    *protocol.Stream
	ref   protocol.ContentRef
	h     hash.Hash
	n     int64
	chunk protocol.FetchChunk // the last chunk; its Data is reused
	buf   []byte              // unread part of the current chunk
	done  error               // sticky result once the stream ended
}

// WriteTo writes the content to w chunk by chunk, without the copy into a
// caller's buffer that Read makes. It ends as Read does: nil after the
// whole verified content, else the error Read would return.
func (f *fetchReader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for {
		if len(f.buf) > 0 {
			n, err := w.Write(f.buf)
			written += int64(n)
			f.buf = f.buf[n:]
			if err != nil {
				return written, err
			}
			continue
		}
		if f.done != nil {
			if f.done == io.EOF {
				return written, nil
			}
			return written, f.done
		}
		f.done = f.next()
	}
}

func (f *fetchReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.done != nil {
			return 0, f.done
		}
		f.done = f.next()
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// next reads one chunk. It returns nil while more may come, and the final
// result (io.EOF or an error) otherwise.
func (f *fetchReader) next() error {
	// Decoding into the previous chunk reuses its Data: msgpack fills a
	// slice with enough capacity in place. Fields a frame omits must not
	// keep the previous chunk's values.
	c := &f.chunk
	*c = protocol.FetchChunk{Data: c.Data[:0]}
	if err := f.st.Recv(c); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("fetch %.12s: %w", f.ref.SHA256, err)
	}
	if c.Err != "" {
		return fmt.Errorf("fetch %.12s: controller: %s", f.ref.SHA256, c.Err)
	}
	f.n += int64(len(c.Data))
	if f.n > f.ref.Size {
		return &ContentMismatchError{Want: f.ref, GotBytes: f.n}
	}
	f.h.Write(c.Data)
	f.buf = c.Data
	if !c.EOF {
		return nil
	}
	got := hex.EncodeToString(f.h.Sum(nil))
	if f.n != f.ref.Size || got != f.ref.SHA256 {
		f.buf = nil
		return &ContentMismatchError{Want: f.ref, GotSHA: got, GotBytes: f.n}
	}
	return io.EOF
}

func (f *fetchReader) Close() error { return f.st.Close() }
