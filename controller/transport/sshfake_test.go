package transport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// fakeSSH is an in-process SSH server for unit tests: password "pw" logs
// in, exec runs the command with the local sh (HOME set to home), and
// keepalives are answered. Only for tests that do not need real sshd.
type fakeSSH struct {
	addr  string
	port  int
	keys  map[string]ssh.Signer // by type
	home  string
	mu    sync.Mutex
	procs []*exec.Cmd
	conns []net.Conn
}

// drop closes every connection from the server's side, as a host that
// goes away does.
func (f *fakeSSH) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, nc := range f.conns {
		nc.Close()
	}
}

func newSigner(t *testing.T, typ string) ssh.Signer {
	t.Helper()
	var key any
	switch typ {
	case ssh.KeyAlgoED25519:
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		key = k
	case ssh.KeyAlgoECDSA256:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key = k
	default:
		t.Fatalf("no key type %s", typ)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startFakeSSH(t *testing.T, home string, keyTypes ...string) *fakeSSH {
	t.Helper()
	f := &fakeSSH{keys: map[string]ssh.Signer{}, home: home}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == "pw" {
				return nil, nil
			}
			return nil, io.EOF
		},
	}
	for _, kt := range keyTypes {
		s := newSigner(t, kt)
		f.keys[kt] = s
		cfg.AddHostKey(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f.addr = "127.0.0.1"
	f.port = ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(nc, cfg)
		}
	}()
	return f
}

func (f *fakeSSH) serve(nc net.Conn, cfg *ssh.ServerConfig) {
	f.mu.Lock()
	f.conns = append(f.conns, nc)
	f.mu.Unlock()
	sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		nc.Close()
		return
	}
	defer sc.Close()
	go func() {
		for r := range reqs {
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go f.session(ch, creqs)
	}
}

func (f *fakeSSH) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	for r := range reqs {
		if r.Type != "exec" {
			if r.WantReply {
				r.Reply(false, nil)
			}
			continue
		}
		var req struct{ Command string }
		ssh.Unmarshal(r.Payload, &req)
		if r.WantReply {
			r.Reply(true, nil)
		}
		cmd := exec.Command("/bin/sh", "-c", req.Command)
		cmd.Env = []string{"HOME=" + f.home, "PATH=" + os.Getenv("PATH")}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		f.mu.Lock()
		f.procs = append(f.procs, cmd)
		f.mu.Unlock()
		go func() {
			status := uint32(0)
			if err := cmd.Run(); err != nil {
				status = 1
				if ee, ok := err.(*exec.ExitError); ok {
					status = uint32(ee.ExitCode())
				}
			}
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], status)
			ch.SendRequest("exit-status", false, b[:])
			ch.Close()
		}()
	}
}
