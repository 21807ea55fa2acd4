package controller

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

// JSONReporter writes one JSON object per event and line, for machines.
// Lines reach w at most jsonFlushDelay after their event, in one write
// with the events around them, and at once for the run's last event and
// at Close: a write per event was a system call and a wake-up of the
// reader for each of the 30-odd events of every host.
type JSONReporter struct {
	mu    sync.Mutex
	w     *bufio.Writer
	enc   *json.Encoder
	timer *time.Timer // flushes what a burst of events left in w
}

// jsonFlushDelay bounds how late a line reaches a reader that follows the
// run live: far below what a person or a CI log notices.
const jsonFlushDelay = 50 * time.Millisecond

// NewJSONReporter writes events to w. Close it when the run is over.
func NewJSONReporter(w io.Writer) *JSONReporter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &JSONReporter{w: bw, enc: json.NewEncoder(bw)}
}

// Report writes e.
func (j *JSONReporter) Report(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	due := j.w.Buffered() > 0 // lines wait already: the timer is set for them
	j.enc.Encode(e)
	switch {
	case e.Kind == EvRunDone:
		j.w.Flush()
	case due:
	case j.timer == nil:
		j.timer = time.AfterFunc(jsonFlushDelay, j.flush)
	default:
		j.timer.Reset(jsonFlushDelay)
	}
}

func (j *JSONReporter) flush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Flush()
}

// Close writes what is still buffered.
func (j *JSONReporter) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.timer != nil {
		j.timer.Stop()
	}
	return j.w.Flush()
}

// TextReporter writes one line per resource for people, coloured when the
// output is a terminal.
type TextReporter struct {
	mu      sync.Mutex
	w       io.Writer
	Color   bool
	Verbose bool
	Push    bool // prefix lines with the host name
}

// NewTextReporter writes to w.
func NewTextReporter(w io.Writer, color, verbose, push bool) *TextReporter {
	return &TextReporter{w: w, Color: color, Verbose: verbose, Push: push}
}

const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	cyan   = "\x1b[36m"
	dim    = "\x1b[2m"
	reset  = "\x1b[0m"
)

func (t *TextReporter) paint(color, s string) string {
	if !t.Color {
		return s
	}
	return color + s + reset
}

// Report renders e.
func (t *TextReporter) Report(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case EvRoleStart:
		t.line(e.Host, t.paint(cyan, "role "+e.Role))
	case EvBatch:
		t.line("", t.paint(cyan, fmt.Sprintf("batch %d/%d: %s", e.Batch.Number, e.Batch.Of, strings.Join(e.Batch.Hosts, ", "))))
	case EvOutput:
		if e.Stream == StreamMessage {
			t.line(e.Host, fmt.Sprintf("      %s", e.Line))
		} else if t.Verbose {
			t.line(e.Host, t.paint(dim, fmt.Sprintf("    [%d] %s| %s", e.Index, streamTag(e.Stream), e.Line)))
		}
	case EvResult:
		t.result(e)
	case EvHandler:
		t.line(e.Host, t.paint(yellow, fmt.Sprintf("  handler %s: %s", e.Resource, e.Status)))
	case EvUnreachabl:
		t.line(e.Host, t.paint(red, "unreachable: "+e.Error))
	case EvHostDone:
		if e.Error != "" {
			t.line(e.Host, t.paint(red, "failed: "+e.Error))
		}
	case EvLog:
		t.line(e.Host, t.paint(dim, e.Line))
	case EvConnected:
		if t.Verbose {
			t.line(e.Host, t.paint(dim, "connected: "+e.Line))
		}
	case EvRunDone:
		t.summary(e.Summary)
	}
}

func streamTag(s string) string {
	if s == "stderr" {
		return "err"
	}
	return ""
}

func (t *TextReporter) line(host, s string) {
	if t.Push && host != "" {
		s = host + " | " + s
	}
	fmt.Fprintln(t.w, s)
}

func (t *TextReporter) result(e Event) {
	r := e.Result
	status := statusWord(r.Status, e.Check)
	text := fmt.Sprintf("  [%d] %s: %s", e.Index, e.Resource, t.paint(statusColor(r.Status), status))
	if len(r.Actions) > 0 && r.Status == protocol.StatusChanged {
		text += " (" + strings.Join(r.Actions, ", ") + ")"
	}
	t.line(e.Host, text)
	if r.Diff != "" {
		t.block(e.Host, r.Diff)
	}
	if r.Status == protocol.StatusFailed || (t.Verbose && r.Msg != "" && r.Status == protocol.StatusChanged) {
		t.failure(e.Host, r)
	}
}

func statusWord(status string, check bool) string {
	if check && status == protocol.StatusChanged {
		return "would change"
	}
	return status
}

func statusColor(status string) string {
	switch status {
	case protocol.StatusChanged:
		return yellow
	case protocol.StatusFailed:
		return red
	case protocol.StatusSkipped:
		return dim
	}
	return green
}

// failure shows what a person needs to act on a failed resource.
func (t *TextReporter) failure(host string, r *protocol.Result) {
	if r.Msg != "" {
		t.line(host, t.paint(red, "      "+r.Msg))
	}
	if r.Cmd != "" {
		t.line(host, fmt.Sprintf("      cmd: %s (rc %d)", r.Cmd, r.RC))
	}
	if r.Status != protocol.StatusFailed {
		return
	}
	for _, o := range [...]struct{ name, text string }{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		if strings.TrimSpace(o.text) != "" {
			t.line(host, "      "+o.name+":")
			t.block(host, o.text)
		}
	}
}

func (t *TextReporter) block(host, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		t.line(host, "        "+l)
	}
}

func (t *TextReporter) summary(s *Summary) {
	if s == nil {
		return
	}
	res, act := s.Changed()
	verb := "changed"
	if s.Check {
		verb = "would change"
	}
	fmt.Fprintf(t.w, "%s %d resources (%d actions) on %s in %s\n", verb, res, act, plural(len(s.Hosts), "host"), s.Elapsed.Round(time.Millisecond))
	if t.Push {
		WriteRecap(t.w, s, t.Color)
		if t.Verbose {
			t.transfer(s)
		}
		return
	}
	if s.Aborted != "" {
		fmt.Fprintln(t.w, t.paint(red, s.Aborted))
	}
	if f := s.FailedHosts(); len(f) > 0 {
		fmt.Fprintln(t.w, t.paint(red, "failed hosts: "+strings.Join(f, ", ")))
	}
	if u := s.UnreachableHosts(); len(u) > 0 {
		fmt.Fprintln(t.w, t.paint(red, "unreachable hosts: "+strings.Join(u, ", ")))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// transfer shows what each host cost on the wire: how warm runs prove they
// sent no worker.
func (t *TextReporter) transfer(s *Summary) {
	for _, h := range s.Hosts {
		fmt.Fprintf(t.w, "%s: sent %d bytes (worker %d), %d round trips to start, %d calls\n",
			h.Name, h.BytesSent, h.WorkerBytes, h.RoundTrips, h.Calls)
	}
}
