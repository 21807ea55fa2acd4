package controller

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsmop/opsmop/internal/testutil"
	"github.com/opsmop/opsmop/worker"
)

// freezableConn is the controller's end of an in-process transport that
// keeps alive at an interval, as SSH does. Once frozen it neither reads
// nor writes until thawed: a controller that hangs with its connection
// open, which the worker's side cannot tell from a quiet one.
type freezableConn struct {
	net.Conn
	every  time.Duration
	frozen chan struct{}
	thawed chan struct{}
}

func (c *freezableConn) Keepalive() time.Duration { return c.every }

func (c *freezableConn) wait() {
	select {
	case <-c.frozen:
		<-c.thawed
	default:
	}
}

func (c *freezableConn) Read(p []byte) (int, error)  { c.wait(); return c.Conn.Read(p) }
func (c *freezableConn) Write(p []byte) (int, error) { c.wait(); return c.Conn.Write(p) }

// startReporter calls started once, on the first resource start.
type startReporter struct {
	recorder
	once    sync.Once
	started func()
}

func (s *startReporter) Report(e Event) {
	s.recorder.Report(e)
	if e.Kind == EvResStart {
		s.once.Do(s.started)
	}
}

// TestWorkerPingsAtTransportKeepalive: the run call asks the worker to
// ping at the transport's keepalive interval, so a worker whose
// controller hangs mid-run ends its session (and the command it runs)
// after three unanswered intervals instead of waiting for TCP.
func TestWorkerPingsAtTransportKeepalive(t *testing.T) {
	_, path := writePolicy(t, pushPolicy(`Role("r", inventory=inv.filter(hosts="db1"), resources=[Shell("sleep 30")])`))
	log := &testutil.SyncBuffer{}
	conn := &freezableConn{every: 20 * time.Millisecond, frozen: make(chan struct{}), thawed: make(chan struct{})}
	dial := func(ctx context.Context, tg Target) (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		go worker.Serve(context.Background(), b, worker.ServeOptions{Log: log})
		conn.Conn = a
		return conn, nil
	}
	rep := &startReporter{started: func() { close(conn.frozen) }}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Run(context.Background(), Options{PolicyPath: path, Push: true, Reporter: rep, Dial: dial})
		done <- err
	}()
	for !strings.Contains(log.String(), "the controller is gone") {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("worker still serving 10s into a frozen run; its log: %q", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("worker log: %s", strings.TrimSpace(log.String()))
	close(conn.thawed)
	select {
	case err := <-done:
		t.Logf("run: %v; db1: %q", err, rep.statuses("db1"))
		if !errors.Is(err, ErrHostsFailed) {
			t.Errorf("run = %v, want db1 failed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run still going 10s after the worker ended its session (sleep 30 was not stopped)")
	}
}
