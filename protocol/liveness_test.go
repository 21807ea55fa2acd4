package protocol

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchedServer starts a worker's session on one end of a pipe, watched
// every interval; peer decides what the other end does.
func watchedServer(t *testing.T, every time.Duration, peer func(net.Conn)) (*Session, func() []error) {
	t.Helper()
	a, b := net.Pipe()
	go peer(a)
	server, err := Server(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); a.Close() })
	var mu sync.Mutex
	var reasons []error
	server.WatchPeer(every, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reasons = append(reasons, err)
	})
	return server, func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), reasons...)
	}
}

// aliveController answers pings, as the controller's yamux does, and
// otherwise stays idle.
func aliveController(t *testing.T) func(net.Conn) {
	return func(c net.Conn) {
		client, err := Client(c)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { client.Close() })
	}
}

func readsNothing(net.Conn)     {}
func answersNothing(c net.Conn) { io.Copy(io.Discard, c) }

func TestWatchPeerEndsSilentSession(t *testing.T) {
	tests := []struct {
		name string
		peer func(net.Conn)
	}{
		// A stalled network or a frozen controller: nothing it is sent is
		// acknowledged, so the ping cannot even be written.
		{"peer reads nothing", readsNothing},
		// The bytes go somewhere, but no yamux answers.
		{"peer reads but never answers", answersNothing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, reasons := watchedServer(t, 20*time.Millisecond, tt.peer)
			select {
			case <-server.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("session still open 5s after its peer went silent (interval 20ms)")
			}
			got := reasons()
			if len(got) != 1 || !strings.Contains(got[0].Error(), "no ping answered for") {
				t.Errorf("reasons = %v, want one saying no ping was answered", got)
			}
		})
	}
}

func TestWatchPeerKeepsAnsweringSession(t *testing.T) {
	// 100 ms: a loaded CI machine may stall a goroutine for a while, and
	// only 300 ms without an answer would end the session.
	server, reasons := watchedServer(t, 100*time.Millisecond, aliveController(t))
	select {
	case <-server.Done():
		t.Fatalf("session with a live peer ended: %v", reasons())
	case <-time.After(1500 * time.Millisecond): // fifteen intervals, all answered
	}
	if got := reasons(); len(got) != 0 {
		t.Errorf("reasons = %v, want none", got)
	}
}
