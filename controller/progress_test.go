package controller

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/opsmop/opsmop/protocol"
)

// fleetHost says what a synthetic host does in fleetEvents.
type fleetHost struct {
	name                        string
	changes, fails, unreachable bool
	resources                   int
}

// syntheticFleet describes n hosts: every third changes something, every
// 25th fails its third resource, every 50th cannot be reached.
func syntheticFleet(n int) []fleetHost {
	hs := make([]fleetHost, n)
	for i := range hs {
		hs[i] = fleetHost{
			name:        fmt.Sprintf("web-%03d", i),
			changes:     i%3 == 0,
			fails:       i%25 == 7,
			unreachable: i%50 == 13,
			resources:   4,
		}
	}
	return hs
}

// events is what the controller reports for one host of role "web".
func (h fleetHost) events() []Event {
	if h.unreachable {
		return []Event{{Kind: EvUnreachabl, Host: h.name, Role: "web", Status: protocol.StatusFailed, Error: "dial tcp: connection refused"}}
	}
	evs := []Event{{Kind: EvRoleStart, Host: h.name, Role: "web"}}
	for i := 1; i <= h.resources; i++ {
		res := fmt.Sprintf("file /etc/app/%d.conf", i)
		r := &protocol.Result{Status: protocol.StatusOK}
		switch {
		case i == 2 && h.changes:
			r = &protocol.Result{Status: protocol.StatusChanged, Actions: []string{"create"}}
		case i == 3 && h.fails:
			r = &protocol.Result{Status: protocol.StatusFailed, Msg: "permission denied"}
		}
		evs = append(evs,
			Event{Kind: EvResStart, Host: h.name, Role: "web", Index: i, Resource: res},
			Event{Kind: EvOutput, Host: h.name, Role: "web", Index: i, Resource: res, Stream: "stdout", Line: "noise"},
			Event{Kind: EvResult, Host: h.name, Role: "web", Index: i, Resource: res, Result: r, Status: r.Status},
		)
		if r.Status == protocol.StatusFailed {
			return append(evs, Event{Kind: EvHostDone, Host: h.name, Role: "web", Status: protocol.StatusFailed})
		}
	}
	return append(evs, Event{Kind: EvHostDone, Host: h.name, Role: "web", Status: protocol.StatusOK})
}

func (h fleetHost) summary() HostSummary {
	s := HostSummary{Name: h.name}
	switch {
	case h.unreachable:
		s.Unreachable, s.Error = true, "dial tcp: connection refused"
	case h.fails:
		s.Failed, s.OK = 1, 2
		if h.changes {
			s.Changed, s.OK = 1, 1
		}
	case h.changes:
		s.Changed, s.OK = 1, 3
	default:
		s.OK = 4
	}
	return s
}

// Five hundred hosts report from their own goroutines while mpb redraws;
// the final view must add up, and only changes and failures are printed.
func TestProgressReporterFleet(t *testing.T) {
	fleet := syntheticFleet(500)
	var buf bytes.Buffer
	refresh := make(chan any)
	r := newProgressReporter(&buf, false, mpb.WithWidth(200), mpb.WithManualRefresh(refresh))

	stopRedraw := make(chan struct{})
	redrawn := make(chan struct{})
	go func() { // redraw as fast as mpb takes it, racing the reports
		defer close(redrawn)
		for {
			select {
			case refresh <- time.Now():
			case <-stopRedraw:
				return
			}
		}
	}()

	r.Report(Event{Kind: EvRunStart})
	var wg sync.WaitGroup
	for _, h := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range h.events() {
				r.Report(e)
			}
		}()
	}
	wg.Wait()
	close(stopRedraw)
	<-redrawn

	sum := &Summary{Elapsed: 2 * time.Second}
	var changed, failed, unreachable, results int
	for _, h := range fleet {
		hs := h.summary()
		sum.Hosts = append(sum.Hosts, hs)
		if hs.Changed > 0 {
			changed++
		}
		if hs.Failed > 0 {
			failed++
		}
		if hs.Unreachable {
			unreachable++
		}
		results += hs.Changed + hs.Failed
	}
	r.Report(Event{Kind: EvRunDone, Summary: sum})
	out := buf.String()

	bars := linesContaining(out, " hosts  ")
	statuses := linesContaining(out, "  in flight ")
	if len(bars) == 0 || len(statuses) == 0 {
		t.Fatalf("no bar rendered:\n%s", out)
	}
	if last := bars[len(bars)-1]; !strings.Contains(last, "] 500/500 hosts") {
		t.Errorf("final bar %q, want 500/500 hosts", last)
	}
	want := fmt.Sprintf("  changed %d  failed %d  unreachable %d  in flight 0", changed, failed, unreachable)
	if last := statuses[len(statuses)-1]; last != want {
		t.Errorf("final counts %q, want %q", last, want)
	}
	if n := len(linesContaining(out, ": changed (create)")) + len(linesContaining(out, ": failed")); n != results {
		t.Errorf("printed %d change and failure lines, want %d", n, results)
	}
	for _, h := range fleet {
		switch {
		case h.unreachable:
			if n := len(linesContaining(out, h.name+" | unreachable: dial tcp")); n != 1 {
				t.Errorf("%s: %d unreachable lines, want 1", h.name, n)
			}
		case h.fails:
			if n := len(linesContaining(out, h.name+" |   [3] file /etc/app/3.conf: failed")); n != 1 {
				t.Errorf("%s: %d failure lines, want 1", h.name, n)
			}
		}
	}
	for _, noise := range []string{": ok", "noise"} {
		if strings.Contains(out, noise) {
			t.Errorf("output shows %q, which the live view should leave out", noise)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("changed hosts (%d):", changed)) || !strings.Contains(out, "host  ") {
		t.Errorf("no recap after the bar:\n%s", tail(out, 20))
	}
	if strings.Index(out, "slowest hosts:") < strings.LastIndex(out, "  in flight ") {
		t.Error("recap printed before the last frame of the bar")
	}
}

func linesContaining(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func tail(s string, n int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// The frame is what one redraw shows; these cases feed events straight to
// the state, without mpb, at fixed times.
func TestProgressFrame(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(kind, host, role string, sec float64) Event {
		return Event{Kind: kind, Host: host, Role: role, Time: at(sec)}
	}
	resStart := func(host, role string, idx int, res string, sec float64) Event {
		e := ev(EvResStart, host, role, sec)
		e.Index, e.Resource = idx, res
		return e
	}
	done := func(host, role, status string, sec float64) Event {
		e := ev(EvHostDone, host, role, sec)
		e.Status = status
		return e
	}
	changed := func(host, role string, sec float64) Event {
		e := ev(EvResult, host, role, sec)
		e.Index, e.Resource, e.Result = 1, "file /a", &protocol.Result{Status: protocol.StatusChanged}
		return e
	}
	batch := func(role string, n, of int, hosts ...string) Event {
		return Event{Kind: EvBatch, Role: role, Time: t0, Batch: &BatchInfo{Number: n, Of: of, Hosts: hosts}}
	}

	tests := []struct {
		name             string
		events           []Event
		now              float64
		progress, status string
		slow             []string
		printed          []string
	}{
		{
			name: "slowest in flight first, done hosts left out",
			events: []Event{
				ev(EvRoleStart, "a", "web", 0), resStart("a", "web", 2, "file /etc/a", 1),
				ev(EvRoleStart, "b", "web", 3),
				ev(EvRoleStart, "c", "web", 0.5), resStart("c", "web", 7, "command make", 2),
				ev(EvRoleStart, "d", "web", 0.1), done("d", "web", protocol.StatusOK, 1),
				ev(EvHandler, "e", "web", 2),
			},
			now:      10,
			progress: "1/5 hosts  10s", status: "  changed 0  failed 0  unreachable 0  in flight 4",
			slow: []string{
				"  a                       10s  [2] file /etc/a",
				"  c                      9.5s  [7] command make",
				"  e                        8s  handler ",
				"  b                        7s  starting",
			},
		},
		{
			name: "Echo messages print, command output does not",
			events: []Event{
				ev(EvRoleStart, "a", "web", 0),
				{Kind: EvOutput, Host: "a", Role: "web", Time: at(1), Stream: StreamMessage, Line: "deployed 1.4.2"},
				{Kind: EvOutput, Host: "a", Role: "web", Time: at(1), Stream: "stdout", Line: "noise"},
			},
			now:      2,
			progress: "0/1 hosts  2s", status: "  changed 0  failed 0  unreachable 0  in flight 1",
			slow:    []string{"  a "},
			printed: []string{"role web", "a |   deployed 1.4.2"},
		},
		{
			name: "role_hosts counts the whole role before hosts start",
			events: []Event{
				{Kind: EvRoleHosts, Role: "web", Time: t0, Batch: &BatchInfo{Of: 3, Hosts: []string{"a", "b", "c", "d", "e", "f"}}},
				batch("web", 1, 3, "a", "b"),
				ev(EvRoleStart, "a", "web", 0), done("a", "web", protocol.StatusOK, 1),
			},
			now:      2,
			progress: "1/6 hosts  2s", status: "  changed 0  failed 0  unreachable 0  in flight 0",
			printed: []string{"role web", "batch 1/3 (2 hosts)"},
		},
		{
			name: "more than five in flight shows the five slowest",
			events: []Event{
				ev(EvRoleStart, "h1", "web", 1), ev(EvRoleStart, "h2", "web", 2), ev(EvRoleStart, "h3", "web", 3),
				ev(EvRoleStart, "h4", "web", 4), ev(EvRoleStart, "h5", "web", 5), ev(EvRoleStart, "h6", "web", 6),
				ev(EvRoleStart, "h0", "web", 0),
			},
			now:      10,
			progress: "0/7 hosts  9s", status: "  changed 0  failed 0  unreachable 0  in flight 7", // since the first event,
			slow: []string{"  h0 ", "  h1 ", "  h2 ", "  h3 ", "  h4 "},
		},
		{
			name: "batches count their hosts before they start",
			events: []Event{
				batch("web", 1, 2, "a", "b"),
				ev(EvRoleStart, "a", "web", 0), done("a", "web", protocol.StatusFailed, 1),
			},
			now:      2,
			progress: "1/2 hosts  2s", status: "  changed 0  failed 1  unreachable 0  in flight 0",
			printed: []string{"role web\n", "batch 1/2 (2 hosts)\n"},
		},
		{
			name: "a new role restarts the bar, host counts stay",
			events: []Event{
				ev(EvRoleStart, "a", "web", 0), changed("a", "web", 0.5), done("a", "web", protocol.StatusOK, 1),
				ev(EvRoleStart, "b", "web", 0), done("b", "web", protocol.StatusOK, 1),
				ev(EvRoleStart, "a", "db", 2), resStart("a", "db", 1, "file /a", 2.2), changed("a", "db", 2.5),
			},
			now:      3,
			progress: "0/1 hosts  3s", status: "  changed 1  failed 0  unreachable 0  in flight 1",
			slow:    []string{"  a                        1s  [1] file /a"},
			printed: []string{"role web\n", "a |   [1] file /a: changed\n", "role db\n", "a |   [1] file /a: changed\n"},
		},
		{
			name: "unreachable hosts are counted once and named",
			events: []Event{
				{Kind: EvUnreachabl, Host: "x", Role: "web", Time: at(1), Status: protocol.StatusFailed, Error: "no route"},
				ev(EvRoleStart, "y", "web", 0),
			},
			now:      1,
			progress: "1/2 hosts  0s", status: "  changed 0  failed 0  unreachable 1  in flight 1",
			slow:    []string{"  y "},
			printed: []string{"x | unreachable: no route\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newProgressReporter(&bytes.Buffer{}, false)
			for _, e := range tc.events {
				r.apply(e)
			}
			r.snapshot(at(tc.now))
			if got := r.fr.progress(); got != tc.progress {
				t.Errorf("progress %q, want %q", got, tc.progress)
			}
			if got := r.fr.status(); got != tc.status {
				t.Errorf("status %q, want %q", got, tc.status)
			}
			var slow []string
			for i := 0; i < slowShown; i++ {
				if l := r.fr.slowLine(i); l != "" {
					slow = append(slow, l)
				}
			}
			if len(slow) != len(tc.slow) {
				t.Fatalf("slow lines %q, want %d like %q", slow, len(tc.slow), tc.slow)
			}
			for i := range slow {
				if !strings.HasPrefix(slow[i], tc.slow[i]) {
					t.Errorf("slow line %d %q, want prefix %q", i, slow[i], tc.slow[i])
				}
			}
			printed := r.pending.String()
			for _, p := range tc.printed {
				if !strings.Contains(printed, p) {
					t.Errorf("printed %q, want it to contain %q", printed, p)
				}
			}
		})
	}
}

func TestProgressClose(t *testing.T) {
	t.Run("before any event draws nothing", func(t *testing.T) {
		var buf bytes.Buffer
		r := newProgressReporter(&buf, false, mpb.WithWidth(100), mpb.WithAutoRefresh())
		r.Close()
		if buf.Len() != 0 {
			t.Errorf("wrote %q", buf.String())
		}
	})
	t.Run("after events ends the view once", func(t *testing.T) {
		var buf bytes.Buffer
		r := newProgressReporter(&buf, false, mpb.WithWidth(100), mpb.WithAutoRefresh())
		r.Report(Event{Kind: EvRoleStart, Host: "a", Role: "web"})
		r.Close()
		r.Close()
		r.Report(Event{Kind: EvRunDone, Summary: &Summary{}})
		if !strings.Contains(buf.String(), "0/1 hosts") {
			t.Errorf("no final frame in %q", buf.String())
		}
		if strings.Contains(buf.String(), "changed 0 resources") {
			t.Error("summary printed after Close")
		}
	})
}

// BenchmarkProgressReport measures what a report costs a host goroutine.
func BenchmarkProgressReport(b *testing.B) {
	r := newProgressReporter(&bytes.Buffer{}, false, mpb.WithWidth(100), mpb.WithAutoRefresh())
	fleet := syntheticFleet(500)
	evs := make([][]Event, len(fleet))
	for i, h := range fleet {
		evs[i] = h.events()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e := evs[i%len(evs)][i/len(evs)%len(evs[i%len(evs)])]
			if e.Kind == EvResult && e.Result.Status != protocol.StatusOK {
				e.Result = &protocol.Result{Status: protocol.StatusOK}
			}
			r.Report(e)
			i++
		}
	})
	b.StopTimer()
	r.Close()
}
