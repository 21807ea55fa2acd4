package transport

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestConnCause: a connection the host drops says so, where the worker's
// stream only saw EOF; one the controller closes itself has no cause.
func TestConnCause(t *testing.T) {
	srv := startFakeSSH(t, t.TempDir(), ssh.KeyAlgoED25519)
	s := ConnSettings{Name: "h1", Address: srv.addr, Port: srv.port, User: "u", Password: pw("pw"), CheckHostKeys: "false"}
	opts := SSHOptions{Binaries: testBinaries, ConnectTimeout: 5 * time.Second, Keepalive: -1, Log: testLog{t}}
	cause := func(c Conn) error { return c.(interface{ Cause() error }).Cause() }

	c, err := DialSSH(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := cause(c); err != nil {
		t.Errorf("closed by the controller: cause %v, want none", err)
	}

	c, err = DialSSH(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.drop()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a dropped connection succeeded")
	}
	if err := cause(c); err == nil || !strings.Contains(err.Error(), "the SSH connection dropped") {
		t.Errorf("dropped by the host: cause %v, want it to say the connection dropped", err)
	}
}
