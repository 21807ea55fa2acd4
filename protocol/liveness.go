package protocol

import (
	"fmt"
	"time"
)

// missedPings is how many intervals without an answered ping end a
// session: the same count of keepalives after which the controller gives
// up an SSH connection.
const missedPings = 3

// WatchPeer pings the peer of s every interval and closes s once the peer
// has answered none for missedPings intervals; gone is called first, once,
// with the reason. The watch ends with the session. A worker needs it:
// when its controller's machine dies or the network between them stalls,
// the host's sshd sees no FIN and keeps the session open until TCP gives
// up, a quarter of an hour or more, and the worker with it.
func (s *Session) WatchPeer(every time.Duration, gone func(error)) {
	go s.watchPeer(every, gone)
}

func (s *Session) watchPeer(every time.Duration, gone func(error)) {
	answered := time.Now()
	pong := make(chan bool, 1)
	pinging := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.Done():
			return
		case ok := <-pong:
			pinging = false
			if ok {
				answered = time.Now()
			}
			continue
		case <-t.C:
		}
		if limit := missedPings * every; time.Since(answered) >= limit {
			gone(fmt.Errorf("no ping answered for %s", limit))
			s.Close()
			return
		}
		if !pinging {
			pinging = true
			go func() { _, err := s.mux.Ping(); pong <- err == nil }()
		}
	}
}
