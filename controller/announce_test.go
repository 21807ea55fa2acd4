package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

// announceDialer starts, for every host, a fake worker that announces a
// (nil: says nothing) and then keeps the session open until the controller
// closes it, answering no call. A non-nil cause is the transport's reason.
func announceDialer(a *protocol.Announce, cause error) Dialer {
	return func(ctx context.Context, tg Target) (io.ReadWriteCloser, error) {
		c, w := net.Pipe()
		var conn io.ReadWriteCloser = c
		if cause != nil {
			conn = &causeConn{ReadWriteCloser: c, cause: cause} // flush_test.go
		}
		go func() {
			sess, err := protocol.Server(w)
			if err != nil {
				return
			}
			defer sess.Close()
			if a == nil {
				return
			}
			sess.Announce(context.Background(), *a)
			<-sess.Done()
		}()
		return conn, nil
	}
}

// TestHandshakeTakesAnnounce: the controller asks a worker nothing before
// its run call; what the worker announces decides whether the host goes on.
func TestHandshakeTakesAnnounce(t *testing.T) {
	ours := protocol.Hello{Version: protocol.Version}
	tests := []struct {
		name     string
		announce *protocol.Announce
		cause    error  // the transport's reason for an end
		want     string // %s: the host
	}{
		{"other protocol version", &protocol.Announce{Hello: protocol.Hello{Version: protocol.Version + 1}}, nil,
			"start worker on %s: worker speaks protocol version"},
		{"facts failed", &protocol.Announce{Hello: ours, FactsErr: "read /etc/os-release: permission denied"}, nil,
			"gather facts on %s: read /etc/os-release: permission denied"},
		{"worker gone before it said hello", nil, nil,
			"start worker on %s: " + errNoAnnounce.Error()},
		{"connection dropped before hello", nil, errors.New("the SSH connection dropped: connection reset by peer"),
			"start worker on %s: the SSH connection dropped: connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := pushPolicy(`Role("r", inventory=inv, resources=[Echo("ran")])`)
			rec, sum, err := pushRun(t, files, func(o *Options) { o.Dial = announceDialer(tt.announce, tt.cause) })
			if !errors.Is(err, ErrHostsFailed) {
				t.Fatalf("err = %v", err)
			}
			if len(sum.Hosts) == 0 {
				t.Fatal("no hosts in the summary")
			}
			for _, h := range sum.Hosts {
				if want := fmt.Sprintf(tt.want, h.Name); !strings.Contains(h.Error, want) {
					t.Errorf("%s: error %q, want %q", h.Name, h.Error, want)
				}
			}
			if got := rec.outputs(); len(got) != 0 {
				t.Fatalf("resources ran: %q", got)
			}
		})
	}
}
