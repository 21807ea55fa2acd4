// Package transport gives the controller a byte stream to a worker: a local
// child process (DialLocal) or a process started over SSH (DialSSH). The
// stream carries the yamux session of package protocol; this package only
// starts the worker and moves bytes.
//
// Over SSH the worker is the controller's own binary, cached on the host at
// ~/.cache/opsmop/opsmop-<sha256> (directory mode 0700). One remote command,
// a small sh script (see script.go), checks the cache, asks for the binary
// only if it is missing ("OPSMOP-NEED <sha256>"), receives it gzip-compressed
// on stdin, verifies its sha256 with sha256sum, renames it into place and
// execs it. Before it execs the worker it prints "OPSMOP-READY"; every byte
// after that line belongs to the worker. A warm start is therefore one
// exchange with the host; a cold one is two.
//
// Under sudo the whole script runs as the target user (so the cache lives in
// that user's home and the login user cannot swap the binary root runs).
// sudo is given a prompt of our own (-p), so a password prompt is recognised
// whatever the host's language; the password goes down the channel's stdin
// and never into argv, the environment or a log. A second prompt means the
// password was wrong (*SudoError). A host whose sudoers says requiretty gets
// a second try on a pseudo-terminal that sshd creates in raw mode.
package transport
