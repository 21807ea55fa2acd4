package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/opsmop/opsmop/e2e/fleet"
)

// TestPushConnectionFaults puts Toxiproxy in front of host1's sshd and
// breaks the connection while host1 runs a command: reset, or stalled (no
// byte gets through, the connection stays open). Either way host1 is
// reported failed, host0 finishes, and the run ends instead of hanging:
// a stall is caught by the SSH keepalives (opsmop_ssh_keepalive=1).
func TestPushConnectionFaults(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
		toxics  []string
	}{
		{"reset", "lost the worker: the SSH connection dropped", []string{`{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`}},
		{"stall", "lost the worker: no answer to keepalives for 3s: the connection stalled", []string{
			`{"name":"stall_up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`,
			`{"name":"stall_down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { connectionFault(t, tt.toxics, tt.wantErr) })
	}
}

func connectionFault(t *testing.T, toxics []string, wantErr string) {
	e := newPushEnv(t, fleet.Options{Hosts: 2})
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "host1-ssh", "127.0.0.1:0", e.f.Hosts[1].HostPort())
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer proxy.Stop()

	var inv, kh strings.Builder
	inv.WriteString("[groups.web.hosts]\n")
	for i, h := range e.f.Hosts {
		line := conn(h)
		if i == 1 {
			line = strings.Replace(line, "opsmop_host="+h.Addr, "opsmop_host="+proxy.Listen, 1) + " opsmop_ssh_keepalive=1"
			kh.WriteString(knownHostsLine(t, h, proxy.Listen))
		}
		fmt.Fprintf(&inv, "%s = %q\n", h.Name, line)
	}
	e.writePolicyFile("inv.toml", inv.String())
	e.writeHome(".ssh/known_hosts", string(mustRead(t, e.f.KnownHosts))+kh.String())

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := e.command(ctx, "--apply", "slow.star")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var events []pushEvent
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev pushEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", sc.Text())
		}
		events = append(events, ev)
		if ev.Kind == "resource_start" && ev.Host == "host1" {
			for _, tx := range toxics {
				if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(tx)); err != nil {
					t.Fatalf("add toxic %s: %v", tx, err)
				}
			}
			t.Logf("connection to host1 broken %v into the run", time.Since(start).Round(time.Millisecond))
		}
	}
	err = cmd.Wait()
	t.Logf("run ended %v after start", time.Since(start).Round(time.Millisecond))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want 2 (a host failed)", err)
	}
	var sum *pushSummary
	for _, ev := range events {
		if ev.Kind == "run_done" {
			sum = ev.Summary
		}
	}
	if sum == nil {
		t.Fatal("no run_done summary")
	}
	for _, h := range sum.Hosts {
		if h.Name != "host1" {
			continue
		}
		t.Logf("host1: failed=%d error=%q", h.Failed, h.Error)
		if h.Failed == 0 || !strings.Contains(h.Error, wantErr) {
			t.Errorf("host1 not reported failed with a lost worker: %+v", h)
		}
	}
	if _, err := os.Stat(filepath.Join(e.f.Hosts[0].Dir(), "after-sleep")); err != nil {
		t.Errorf("host0 did not finish: %v", err)
	}
	// host1's worker may finish its batch: only the controller's side of
	// the connection was reset, as when a NAT drops it, and the host
	// cannot tell. What matters is that the controller says so and ends.
}
