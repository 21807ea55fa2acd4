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
// closes it, answering no call.
func announceDialer(a *protocol.Announce) Dialer {
	return func(ctx context.Context, tg Target) (io.ReadWriteCloser, error) {
		c, w := net.Pipe()
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
		return c, nil
	}
}

// TestHandshakeTakesAnnounce: the controller asks a worker nothing before
// its run call; what the worker announces decides whether the host goes on.
func TestHandshakeTakesAnnounce(t *testing.T) {
	ours := protocol.Hello{Version: protocol.Version}
	tests := []struct {
		name     string
		announce *protocol.Announce
		want     string // %s: the host
	}{
		{"other protocol version", &protocol.Announce{Hello: protocol.Hello{Version: protocol.Version + 1}},
			"start worker on %s: worker speaks protocol version"},
		{"facts failed", &protocol.Announce{Hello: ours, FactsErr: "read /etc/os-release: permission denied"},
			"gather facts on %s: read /etc/os-release: permission denied"},
		{"worker gone before it said hello", nil,
			"start worker on %s: " + errNoAnnounce.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := pushPolicy(`Role("r", inventory=inv, resources=[Echo("ran")])`)
			rec, sum, err := pushRun(t, files, func(o *Options) { o.Dial = announceDialer(tt.announce) })
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
