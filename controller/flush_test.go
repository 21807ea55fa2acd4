package controller

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// causeConn is a connection whose transport knows why it ended.
type causeConn struct {
	io.ReadWriteCloser
	cause error
	asked int
}

func (c *causeConn) Cause() error { c.asked++; return c.cause }

// TestLossCause: a broken stream is explained by the transport's reason;
// an error the worker answered with is the worker's, and the transport
// (which may wait for a reason) is not asked.
func TestLossCause(t *testing.T) {
	dropped := errors.New("the SSH connection dropped: connection reset by peer")
	remote := &protocol.RemoteError{Method: protocol.MethodRun, Msg: "bad request"}
	tests := []struct {
		name      string
		err       error
		cause     error
		want      error
		wantAsked int
	}{
		{"stream ended, transport knows why", io.EOF, dropped, dropped, 1},
		{"stream ended, transport knows nothing", io.EOF, nil, io.EOF, 1},
		{"the worker answered with an error", fmt.Errorf("run: %w", remote), dropped, remote, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &causeConn{cause: tt.cause}
			x := &executor{ws: &workerSession{conn: c}}
			got := x.lossCause(tt.err)
			if !errors.Is(got, tt.want) {
				t.Errorf("cause = %v, want %v", got, tt.want)
			}
			if c.asked != tt.wantAsked {
				t.Errorf("transport asked %d times, want %d", c.asked, tt.wantAsked)
			}
		})
	}
}
