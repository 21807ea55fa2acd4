package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsmop/opsmop/protocol"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func pw(s string) *string { return &s }

func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestKnownHostsAddr(t *testing.T) {
	for _, tt := range []struct {
		host string
		port int
		want string
	}{
		{"example.com", 22, "example.com"},
		{"10.0.0.1", 2222, "[10.0.0.1]:2222"},
		{"::1", 22, "::1"},
		{"::1", 2200, "[::1]:2200"},
	} {
		if got := knownHostsAddr(tt.host, tt.port); got != tt.want {
			t.Errorf("knownHostsAddr(%s, %d) = %s, want %s", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestKnownAlgorithms(t *testing.T) {
	ed := newSigner(t, ssh.KeyAlgoED25519).PublicKey()
	ec := newSigner(t, ssh.KeyAlgoECDSA256).PublicKey()
	rsaLine := "[10.0.0.1]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7vbqajDhA+17ZAdaZcZSJdhpLVBcLyXUL4+Zp0GvESAPTJSyBzFdVQrvYl7gbhN0ST2ZLMNhHk6dtESkE1FR4eQL/ltIkZ4rH/MlG3CbEFf15VUgEHsyZWCaxjWz6PHQi8gxdc5tnVuC6RB1yAIrjHQJcbbmhCdJyrWgg7ZqkQw=="
	tests := []struct {
		name  string
		lines []string
		addr  string
		want  []string
	}{
		{"unknown host", []string{knownhosts.Line([]string{"other"}, ed)}, "10.0.0.1:22", nil},
		{"ed25519", []string{knownhosts.Line([]string{"10.0.0.1"}, ed)}, "10.0.0.1:22", []string{ssh.KeyAlgoED25519}},
		{"port form", []string{knownhosts.Line([]string{"[10.0.0.1]:2222"}, ec)}, "10.0.0.1:2222", []string{ssh.KeyAlgoECDSA256}},
		{"port form does not match port 22", []string{knownhosts.Line([]string{"[10.0.0.1]:2222"}, ec)}, "10.0.0.1:22", nil},
		{"hashed name", []string{knownhosts.Line([]string{knownhosts.HashHostname("h.example")}, ed)}, "h.example:22", []string{ssh.KeyAlgoED25519}},
		{"two types", []string{knownhosts.Line([]string{"h"}, ed), knownhosts.Line([]string{"h"}, ec)}, "h:22", []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256}},
		{"rsa offers sha2", []string{rsaLine}, "10.0.0.1:2222", []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := knownhosts.New(writeKnownHosts(t, tt.lines...))
			if err != nil {
				t.Fatal(err)
			}
			got := knownAlgorithms(cb, tt.addr)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("algorithms = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHostKeyChecks connects to an in-process server offering ecdsa and
// ed25519 keys (x/crypto prefers ecdsa) under each policy.
func TestHostKeyChecks(t *testing.T) {
	srv := startFakeSSH(t, t.TempDir(), ssh.KeyAlgoECDSA256, ssh.KeyAlgoED25519)
	name := knownHostsAddr(srv.addr, srv.port)
	edLine := knownhosts.Line([]string{name}, srv.keys[ssh.KeyAlgoED25519].PublicKey())
	otherEd := knownhosts.Line([]string{name}, newSigner(t, ssh.KeyAlgoED25519).PublicKey())
	tests := []struct {
		name    string
		mode    string
		lines   []string // nil: no file
		wantErr any      // nil, *HostKeyChangedError, *UnknownHostKeyError
		line    int      // of the old key, for a changed key
	}{
		{name: "known by ed25519 while server prefers ecdsa", mode: "true", lines: []string{edLine}},
		{name: "changed key refused", mode: "true", lines: []string{"# comment", otherEd}, wantErr: &HostKeyChangedError{}, line: 2},
		{name: "changed key refused even with accept-new", mode: "accept-new", lines: []string{otherEd}, wantErr: &HostKeyChangedError{}, line: 1},
		{name: "unknown refused", mode: "true", lines: []string{"# empty"}, wantErr: &UnknownHostKeyError{}},
		{name: "unknown refused, no file", mode: "true", wantErr: &UnknownHostKeyError{}},
		{name: "not checked", mode: "false", lines: []string{otherEd}},
		{name: "accept-new records", mode: "accept-new"},
		{name: "accept-new appends", mode: "accept-new", lines: []string{"# no newline at end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
			if tt.lines != nil {
				os.MkdirAll(filepath.Dir(file), 0o700)
				os.WriteFile(file, []byte(strings.Join(tt.lines, "\n")), 0o600)
			}
			s := ConnSettings{Name: "h1", Address: srv.addr, Port: srv.port, User: "u", Password: pw("pw"), CheckHostKeys: tt.mode}
			opts := SSHOptions{KnownHosts: file, ConnectTimeout: 5 * time.Second}
			opts.defaults()
			c, err := connect(context.Background(), s, opts)
			if c != nil {
				c.Close()
			}
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
			case *HostKeyChangedError:
				var hk *HostKeyChangedError
				if !errors.As(err, &hk) {
					t.Fatalf("err = %v, want *HostKeyChangedError", err)
				}
				if hk.File != file || hk.Line != tt.line || !strings.Contains(err.Error(), "HOST KEY CHANGED") {
					t.Errorf("error %q does not name %s:%d", err, file, tt.line)
				}
				_ = want
			case *UnknownHostKeyError:
				var uk *UnknownHostKeyError
				if !errors.As(err, &uk) || uk.Host != name || !strings.Contains(err.Error(), "accept-new") {
					t.Fatalf("err = %v, want *UnknownHostKeyError for %s with a hint", err, name)
				}
			}
			if tt.mode == "accept-new" && tt.wantErr == nil {
				// The key is recorded and now passes a strict check.
				s.CheckHostKeys = "true"
				c, err := connect(context.Background(), s, opts)
				if err != nil {
					t.Fatalf("strict connect after accept-new: %v", err)
				}
				c.Close()
				data, _ := os.ReadFile(file)
				if n := strings.Count(string(data), name+" "); n != 1 {
					t.Errorf("known_hosts has %d lines for %s, want 1:\n%s", n, name, data)
				}
			}
		})
	}
}

func TestDialSSHFake(t *testing.T) {
	home := t.TempDir()
	srv := startFakeSSH(t, home, ssh.KeyAlgoED25519)
	s := ConnSettings{Name: "h1", Address: srv.addr, Port: srv.port, User: "u", Password: pw("pw"), CheckHostKeys: "false"}
	opts := SSHOptions{Binaries: testBinaries, ConnectTimeout: 5 * time.Second, Keepalive: 50 * time.Millisecond, Log: testLog{t}}
	ctx := context.Background()
	for _, want := range []struct {
		name   string
		cached bool
		rt     int
	}{{"cold", false, 2}, {"warm", true, 1}} {
		t.Run(want.name, func(t *testing.T) {
			c, err := DialSSH(ctx, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := protocol.Client(c)
			if err != nil {
				t.Fatal(err)
			}
			hello(t, sess)
			time.Sleep(200 * time.Millisecond) // a few keepalives go by and are answered
			hello(t, sess)
			st := c.Stats()
			if st.WorkerCached != want.cached || st.RoundTrips != want.rt || (st.WorkerBytesSent == 0) == !want.cached {
				t.Errorf("stats = %+v, want cached=%v round trips=%d", st, want.cached, want.rt)
			}
			t.Logf("%s: %+v", want.name, st)
		})
	}
}

// TestKnownHostsParsedOnce: the connections of a run share one parse of an
// unchanged known_hosts, and see a key recorded since (by accept-new, by an
// edit) as soon as the file has changed.
func TestKnownHostsParsedOnce(t *testing.T) {
	parses := 0
	parseKnownHosts = func(files ...string) (ssh.HostKeyCallback, error) {
		parses++
		return knownhosts.New(files...)
	}
	t.Cleanup(func() { parseKnownHosts = knownhosts.New })
	key := newSigner(t, ssh.KeyAlgoED25519).PublicKey()
	file := writeKnownHosts(t, knownhosts.Line([]string{"a.example"}, key))
	p := hostKeyPolicy{mode: "true", file: file}
	check := func(host string) error {
		cb, err := p.callback()
		if err != nil {
			t.Fatal(err)
		}
		return cb(host+":22", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}, key)
	}
	for range 3 {
		if err := check("a.example"); err != nil {
			t.Fatalf("a.example: %v", err)
		}
	}
	if parses != 1 {
		t.Errorf("an unchanged file was parsed %d times, want once", parses)
	}
	if err := appendKnownHost(file, "b.example", key); err != nil {
		t.Fatal(err)
	}
	if err := check("b.example"); err != nil {
		t.Errorf("a host recorded after the first parse: %v", err)
	}
	if parses != 2 {
		t.Errorf("parsed %d times after the file changed, want 2", parses)
	}
}
