package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/vmihailenco/msgpack/v5"
)

// Session is one side of a controller–worker connection.
type Session struct {
	mux *yamux.Session
}

func muxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	// A slow WAN link must not be mistaken for a dead peer; the SSH layer
	// has keepalives of its own.
	cfg.EnableKeepAlive = false
	cfg.ConnectionWriteTimeout = 60 * time.Second
	cfg.StreamOpenTimeout = 60 * time.Second
	cfg.MaxStreamWindowSize = 1 << 20
	return cfg
}

// Client starts the controller's side of a session on conn.
func Client(conn io.ReadWriteCloser) (*Session, error) {
	mux, err := yamux.Client(&joinConn{ReadWriteCloser: conn}, muxConfig())
	if err != nil {
		return nil, fmt.Errorf("start yamux client: %w", err)
	}
	return &Session{mux: mux}, nil
}

// Server starts the worker's side of a session on conn.
func Server(conn io.ReadWriteCloser) (*Session, error) {
	mux, err := yamux.Server(&joinConn{ReadWriteCloser: conn}, muxConfig())
	if err != nil {
		return nil, fmt.Errorf("start yamux server: %w", err)
	}
	return &Session{mux: mux}, nil
}

// Close ends the session and its streams.
func (s *Session) Close() error { return s.mux.Close() }

// Done is closed when the session ends, for any reason.
func (s *Session) Done() <-chan struct{} { return s.mux.CloseChan() }

// Stream is one call: a Codec on a yamux stream.
type Stream struct {
	*Codec
	conn net.Conn
}

// Close closes the stream.
func (st *Stream) Close() error { return st.conn.Close() }

// Open starts a call: it opens a stream and sends the request.
func (s *Session) Open(ctx context.Context, method string, body any) (*Stream, error) {
	raw, err := msgpack.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", method, err)
	}
	conn, err := s.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open stream for %s: %w", method, err)
	}
	st := &Stream{Codec: NewCodec(conn), conn: conn}
	if err := st.Send(Request{Method: method, Body: raw}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send %s request: %w", method, err)
	}
	closeOnCancel(ctx, conn)
	return st, nil
}

// closeOnCancel aborts a stream when ctx ends so a blocked Recv returns.
func closeOnCancel(ctx context.Context, conn net.Conn) {
	if ctx.Done() == nil {
		return
	}
	go func() {
		<-ctx.Done()
		// Close only half-closes a yamux stream; the deadline is what
		// wakes a Recv blocked on it.
		conn.SetDeadline(time.Now())
		conn.Close()
	}()
}

// Call makes a call with no events: it sends req and decodes the reply into resp.
func (s *Session) Call(ctx context.Context, method string, req, resp any) error {
	st, err := s.Open(ctx, method, req)
	if err != nil {
		return err
	}
	defer st.Close()
	var f Frame
	if err := st.Recv(&f); err != nil {
		return fmt.Errorf("read %s reply: %w", method, noEOF(err))
	}
	return f.Reply.decode(method, resp)
}

// RemoteError is an error the other side returned for a call.
type RemoteError struct {
	Method string
	Msg    string
}

func (e *RemoteError) Error() string { return e.Method + ": " + e.Msg }

func (r *Reply) decode(method string, into any) error {
	if r == nil {
		return fmt.Errorf("%s: missing reply", method)
	}
	if r.Err != "" {
		return &RemoteError{Method: method, Msg: r.Err}
	}
	if into == nil || len(r.Body) == 0 {
		return nil
	}
	if err := msgpack.Unmarshal(r.Body, into); err != nil {
		return fmt.Errorf("decode %s reply: %w", method, err)
	}
	return nil
}

// DecodeReply checks a reply frame from a streaming call and decodes its body.
func DecodeReply(method string, r *Reply, into any) error { return r.decode(method, into) }

// Incoming is a call received from the peer.
type Incoming struct {
	*Stream
	Method string
	body   msgpack.RawMessage
}

// Decode decodes the request body into v.
func (in *Incoming) Decode(v any) error {
	if err := msgpack.Unmarshal(in.body, v); err != nil {
		return fmt.Errorf("decode %s request: %w", in.Method, err)
	}
	return nil
}

// Event streams one event to the caller.
func (in *Incoming) Event(ev Event) error { return in.Send(Frame{Event: &ev}) }

// Reply ends the call with body, or with err if it is not nil.
func (in *Incoming) Reply(body any, err error) error {
	defer in.Close()
	if err != nil {
		return in.Send(Frame{Reply: &Reply{Err: err.Error()}})
	}
	raw, merr := msgpack.Marshal(body)
	if merr != nil {
		return in.Send(Frame{Reply: &Reply{Err: "encode reply: " + merr.Error()}})
	}
	return in.Send(Frame{Reply: &Reply{Body: raw}})
}

// Accept waits for the peer's next call.
func (s *Session) Accept() (*Incoming, error) {
	conn, err := s.mux.AcceptStream()
	if err != nil {
		return nil, err
	}
	st := &Stream{Codec: NewCodec(conn), conn: conn}
	var req Request
	if err := st.Recv(&req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read request: %w", err)
	}
	return &Incoming{Stream: st, Method: req.Method, body: req.Body}, nil
}

// IsClosed reports whether err means the session or stream went away.
func IsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, yamux.ErrSessionShutdown) ||
		errors.Is(err, yamux.ErrStreamClosed) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}
