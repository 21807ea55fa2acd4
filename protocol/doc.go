// Package protocol defines what the controller and the worker say to each
// other, and how: length-prefixed msgpack frames on yamux streams.
//
// One byte stream (a child process's pipes in local mode, an SSH session's
// stdin/stdout in push mode) carries a yamux session. The controller is the
// yamux client. Every call opens a stream of its own: the caller writes one
// Request frame, the callee answers with zero or more Event frames and ends
// with one reply frame. Because each call has its own stream, a large file
// transfer never holds up command output or results of another call.
//
// The worker speaks first (since Version 2): as soon as it starts it opens an
// announce stream (MethodAnnounce) carrying its hello (protocol Version and
// build hash) and its facts, and waits for no reply; the controller checks
// it with Announce.Check, and a mismatch is a *MismatchError. The hello call
// (Session.Handshake) asks the same of a worker when a caller wants it.
//
// Over SSH the controller cannot be the only side that checks the other is
// alive: when the network stalls or the controller's machine dies, the
// host's sshd sees no FIN and keeps the session, and the worker with it,
// until TCP gives up. So a run call carries the transport's keepalive
// interval (RunRequest.KeepAlive, Version 3) and the worker pings the
// controller at it (Session.WatchPeer), ending the session when three in a
// row go unanswered, as the controller does with SSH keepalives.
//
// Calls the controller makes: hello, facts, run, shutdown.
// Calls the worker makes back: announce (once, first), fetch (file content
// by sha256).
package protocol
