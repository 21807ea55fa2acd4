package protocol

import (
	"fmt"
	"sync"
	"time"
)

// missedPings is how many intervals without an answered ping end a
// session: the same count of keepalives after which the controller gives
// up an SSH connection.
const missedPings = 3

// PeerWatch pings the peer of a session at an interval and closes the
// session once the peer has answered none for missedPings intervals. A
// worker needs it: when its controller's machine dies or the network
// between them stalls, the host's sshd sees no FIN and keeps the session
// open until TCP gives up, a quarter of an hour or more, and the worker
// with it.
type PeerWatch struct {
	mu    sync.Mutex
	every time.Duration
	reset chan struct{} // wakes the loop when every changes
}

// WatchPeer starts watching s; every is the first interval. gone is
// called once, with the reason, before the session is closed for
// silence. The watch ends with the session.
func (s *Session) WatchPeer(every time.Duration, gone func(error)) *PeerWatch {
	w := &PeerWatch{every: every, reset: make(chan struct{}, 1)}
	go w.loop(s, gone)
	return w
}

// SetInterval changes the interval, from the next ping on.
func (w *PeerWatch) SetInterval(every time.Duration) {
	w.mu.Lock()
	changed := w.every != every
	w.every = every
	w.mu.Unlock()
	if changed {
		select {
		case w.reset <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

func (w *PeerWatch) interval() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.every
}

func (w *PeerWatch) loop(s *Session, gone func(error)) {
	answered := time.Now()
	pong := make(chan bool, 1)
	pinging := false
	t := time.NewTimer(w.interval())
	defer t.Stop()
	for {
		select {
		case <-s.Done():
			return
		case <-w.reset:
			t.Reset(w.interval())
			continue
		case ok := <-pong:
			pinging = false
			if ok {
				answered = time.Now()
			}
			continue
		case <-t.C:
		}
		every := w.interval()
		if limit := missedPings * every; time.Since(answered) >= limit {
			gone(fmt.Errorf("no ping answered for %s", limit))
			s.Close()
			return
		}
		if !pinging {
			pinging = true
			go func() { _, err := s.mux.Ping(); pong <- err == nil }()
		}
		t.Reset(every)
	}
}
