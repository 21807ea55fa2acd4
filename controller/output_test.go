package controller

import (
	"bufio"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog records each Write apart: what a reader of the output receives.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeLog) snapshot() (writes int, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes), strings.Join(w.writes, "")
}

// decodeLines parses every line as one event, as a CI system would.
func decodeLines(t *testing.T, text string) []Event {
	t.Helper()
	var evs []Event
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func hostEvents(host string) []Event {
	return []Event{
		{Kind: EvHostStart, Host: host},
		{Kind: EvResStart, Host: host, Index: 1, Resource: "shell true"},
		{Kind: EvResult, Host: host, Index: 1, Resource: "shell true", Status: "ok"},
		{Kind: EvHostDone, Host: host},
	}
}

func TestJSONReporter(t *testing.T) {
	tests := []struct {
		name       string
		events     []Event
		close      bool
		wantWrites int // at most, once the lines are out
	}{
		{"a burst is one write at close", hostEvents("web1"), true, 1},
		{"the run's last event writes at once", append(hostEvents("web1"), Event{Kind: EvRunDone}), false, 1},
		{"lines go out by themselves within the delay", hostEvents("web1"), false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &writeLog{}
			j := NewJSONReporter(out)
			for _, e := range tt.events {
				j.Report(e)
			}
			if tt.close {
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			writes, text := out.snapshot()
			for strings.Count(text, "\n") < len(tt.events) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				writes, text = out.snapshot()
			}
			got := decodeLines(t, text)
			if len(got) != len(tt.events) {
				t.Fatalf("%d lines out, want %d:\n%s", len(got), len(tt.events), text)
			}
			for i := range got {
				if got[i].Kind != tt.events[i].Kind || got[i].Host != tt.events[i].Host {
					t.Errorf("line %d = %s %s, want %s %s", i, got[i].Kind, got[i].Host, tt.events[i].Kind, tt.events[i].Host)
				}
			}
			if writes > tt.wantWrites {
				t.Errorf("%d writes for %d events, want at most %d", writes, len(tt.events), tt.wantWrites)
			}
			j.Close()
		})
	}
}

func TestJSONReporterRunDoneIsNotDelayed(t *testing.T) {
	out := &writeLog{}
	j := NewJSONReporter(out)
	defer j.Close()
	j.Report(Event{Kind: EvHostStart, Host: "web1"})
	j.Report(Event{Kind: EvRunDone})
	// No waiting: run_done must be out when Report returns.
	if _, text := out.snapshot(); strings.Count(text, "\n") != 2 {
		t.Fatalf("after run_done, out holds %q, want both lines", text)
	}
}
