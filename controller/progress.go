package controller

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/opsmop/opsmop/protocol"
)

// slowShown is how many of the slowest hosts in flight the live view lists.
const slowShown = 5

// refreshRate is how often the live view redraws and prints pending lines.
const refreshRate = 150 * time.Millisecond

// ProgressReporter draws a live view of a push run on a terminal: a bar of
// the hosts done with the current role, counts of changed, failed,
// unreachable and in-flight hosts, and the slowest hosts in flight with the
// resource each is on. Only changes and failures are printed, above the bar,
// so that 500 hosts do not flood the screen; the recap follows at run_done.
//
// Report only updates counters under a mutex; drawing happens on mpb's
// refresh, so hundreds of reporting goroutines are not slowed by the screen.
type ProgressReporter struct {
	w       io.Writer
	color   bool
	options []mpb.ContainerOption

	startOnce sync.Once
	started   atomic.Bool
	p         *mpb.Progress
	bar       *mpb.Bar
	stop      chan struct{} // closed to stop flushLoop
	flushed   chan struct{} // closed when flushLoop has returned

	mu       sync.Mutex
	closed   bool
	text     *TextReporter // formats the lines printed above the bar into pending
	pending  *bytes.Buffer // lines waiting for the next refresh
	spare    *bytes.Buffer // owned by flushLoop between swaps
	runStart time.Time
	role     string
	hosts    map[string]*liveHost
	// Counts for the current role: roles run one after another over the fleet.
	total, done, inFlight int
	// Counts of distinct hosts over the whole run.
	changed, failed, unreachable int
	fr                           frame
}

// liveHost is what the live view knows about one host.
type liveHost struct {
	name     string
	role     string // the role the state below is about
	state    hostState
	start    time.Time // when the host started the role
	index    int
	resource string // what the host is working on

	changed, failed, unreachable bool
}

type hostState uint8

const (
	hostNew       hostState = iota // not yet seen in this role
	hostAnnounced                  // listed in a batch, not started
	hostInFlight
	hostDone
)

// frame is a snapshot of the counters taken once per redraw, so the bar, its
// counts and the slow-host lines of one redraw agree with each other.
type frame struct {
	role                         string
	total, done, inFlight        int
	changed, failed, unreachable int
	elapsed                      time.Duration
	slow                         [slowShown]slowHost
	nslow                        int
}

type slowHost struct {
	name, resource string
	index          int
	took           time.Duration
}

// NewProgressReporter draws the live view on w, which should be a terminal;
// color paints the lines printed above the bar.
func NewProgressReporter(w io.Writer, color bool) *ProgressReporter {
	return newProgressReporter(w, color)
}

// newProgressReporter lets tests pass mpb options (width, refresh).
func newProgressReporter(w io.Writer, color bool, options ...mpb.ContainerOption) *ProgressReporter {
	r := &ProgressReporter{
		w:       w,
		color:   color,
		options: options,
		pending: new(bytes.Buffer),
		spare:   new(bytes.Buffer),
		hosts:   map[string]*liveHost{},
	}
	r.text = NewTextReporter(pendingWriter{r}, color, false, true)
	return r
}

// pendingWriter appends to the reporter's pending lines; callers hold r.mu.
type pendingWriter struct{ r *ProgressReporter }

func (p pendingWriter) Write(b []byte) (int, error) { return p.r.pending.Write(b) }

// Report records e; run_done ends the live view and prints the recap.
func (r *ProgressReporter) Report(e Event) {
	if e.Kind == EvRunDone {
		r.finish(e.Summary)
		return
	}
	r.startOnce.Do(r.start)
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.apply(e)
	}
}

// Close ends the live view of a run that stopped without run_done (an
// error before any host ran); it is a no-op after run_done.
func (r *ProgressReporter) Close() error {
	if r.started.Load() {
		r.finish(nil)
	}
	return nil
}

// start sets up mpb on the first event, so a run that fails before it
// starts leaves the terminal untouched.
func (r *ProgressReporter) start() {
	opts := append([]mpb.ContainerOption{mpb.WithOutput(r.w), mpb.WithRefreshRate(refreshRate)}, r.options...)
	r.p = mpb.New(opts...)
	// Below the bar: the counts, then the slowest hosts in flight.
	lines := make([]mpb.BarFiller, 1+slowShown)
	lines[0] = mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
		return r.writeLine(w, (*frame).status, st.AvailableWidth)
	})
	for i := range slowShown {
		lines[1+i] = mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
			return r.writeLine(w, func(f *frame) string { return f.slowLine(i) }, st.AvailableWidth)
		})
	}
	r.bar = r.p.New(0, fillerBuilder{r},
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return r.takeFrame() })),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return r.progress() })),
		mpb.BarWidth(40),
		mpb.BarBtmExtender(lines...),
	)
	r.stop, r.flushed = make(chan struct{}), make(chan struct{})
	go r.flushLoop()
	r.started.Store(true)
}

// apply updates the counters for e; r.mu is held.
func (r *ProgressReporter) apply(e Event) {
	if r.runStart.IsZero() {
		r.runStart = e.Time
	}
	if e.Role != "" && e.Role != r.role {
		r.role = e.Role
		r.total, r.done, r.inFlight = 0, 0, 0
		fmt.Fprintln(r.pending, r.text.paint(cyan, "role "+e.Role))
	}
	switch e.Kind {
	case EvRoleHosts:
		r.announce(e) // the whole role's hosts count from the start
		return
	case EvBatch:
		r.batch(e)
		return
	case EvLog:
		r.text.line(e.Host, r.text.paint(dim, e.Line))
	}
	if e.Host == "" || e.Role == "" {
		return
	}
	h := r.host(e.Host, e.Role)
	if h.state < hostInFlight {
		h.state, h.start = hostInFlight, e.Time
		r.inFlight++
	}
	switch e.Kind {
	case EvResStart:
		h.index, h.resource = e.Index, e.Resource
	case EvOutput:
		if e.Stream == StreamMessage { // what Echo and Debug print is for the user
			r.text.line(e.Host, "  "+e.Line)
		}
	case EvHandler:
		h.index, h.resource = 0, "handler "+e.Resource
		if e.Status == protocol.StatusFailed {
			r.text.Report(e)
		}
	case EvResult:
		r.result(h, e)
	case EvHostDone, EvUnreachabl:
		r.hostDone(h, e)
	}
}

// host returns the state of a host for role, counting it into the role's
// total when first seen.
func (r *ProgressReporter) host(name, role string) *liveHost {
	h := r.hosts[name]
	if h == nil {
		h = &liveHost{name: name}
		r.hosts[name] = h
	}
	if h.role != role {
		h.role, h.state, h.index, h.resource = role, hostNew, 0, ""
	}
	if h.state == hostNew {
		h.state = hostAnnounced
		r.total++
	}
	return h
}

// batch prints the boundary and counts the batch's hosts into the total
// before they start, so the bar knows how far it has to go.
func (r *ProgressReporter) batch(e Event) {
	if e.Batch == nil {
		return
	}
	for _, name := range e.Batch.Hosts {
		r.host(name, e.Role)
	}
	fmt.Fprintln(r.pending, r.text.paint(cyan, fmt.Sprintf("batch %d/%d (%s)", e.Batch.Number, e.Batch.Of, plural(len(e.Batch.Hosts), "host"))))
}

// announce counts every host of a role into the total before any starts,
// so the bar's end does not move as batches and --forks let hosts in.
func (r *ProgressReporter) announce(e Event) {
	if e.Batch == nil {
		return
	}
	for _, name := range e.Batch.Hosts {
		r.host(name, e.Role)
	}
}

// result prints changes and failures; everything else only moves counters.
func (r *ProgressReporter) result(h *liveHost, e Event) {
	if e.Result == nil {
		return
	}
	switch e.Result.Status {
	case protocol.StatusChanged:
		if !h.changed {
			h.changed = true
			r.changed++
		}
	case protocol.StatusFailed:
	default:
		return
	}
	r.text.result(e)
}

func (r *ProgressReporter) hostDone(h *liveHost, e Event) {
	if h.state == hostInFlight {
		r.inFlight--
	}
	if h.state != hostDone {
		h.state = hostDone
		r.done++
	}
	if e.Status != protocol.StatusFailed {
		return
	}
	if e.Kind == EvUnreachabl {
		if !h.unreachable {
			h.unreachable = true
			r.unreachable++
		}
		r.text.line(h.name, r.text.paint(red, "unreachable: "+e.Error))
		return
	}
	if !h.failed {
		h.failed = true
		r.failed++
	}
	if e.Error != "" {
		r.text.line(h.name, r.text.paint(red, "failed: "+e.Error))
	}
}

// flushLoop prints pending lines above the bar at the refresh rate, outside
// r.mu: mpb's Write waits for the renderer, which takes r.mu to draw.
func (r *ProgressReporter) flushLoop() {
	defer close(r.flushed)
	t := time.NewTicker(refreshRate)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.flushPending()
		case <-r.stop:
			r.flushPending()
			return
		}
	}
}

func (r *ProgressReporter) flushPending() {
	r.mu.Lock()
	if r.pending.Len() == 0 {
		r.mu.Unlock()
		return
	}
	r.pending, r.spare = r.spare, r.pending
	buf := r.spare
	r.mu.Unlock()
	r.p.Write(buf.Bytes())
	buf.Reset()
}

// finish completes the bar, waits for mpb's last redraw, then prints the
// summary and recap below it.
func (r *ProgressReporter) finish(sum *Summary) {
	r.startOnce.Do(r.start)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	done := r.done
	r.mu.Unlock()

	close(r.stop)
	<-r.flushed
	r.bar.SetTotal(int64(done), true)
	r.p.Wait()
	if sum != nil {
		out := NewTextReporter(r.w, r.color, false, true)
		out.summary(sum)
	}
}

// takeFrame snapshots the counters for this redraw and returns the bar's
// label; mpb calls it first, before the bar and the other decorators.
func (r *ProgressReporter) takeFrame() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshot(time.Now())
	if r.fr.role == "" {
		return "hosts"
	}
	return r.fr.role
}

// snapshot fills r.fr; r.mu is held. It walks the hosts once per redraw to
// pick the slowest in flight, which at 150 ms and 500 hosts costs nothing.
func (r *ProgressReporter) snapshot(now time.Time) {
	f := &r.fr
	*f = frame{
		role: r.role, total: r.total, done: r.done, inFlight: r.inFlight,
		changed: r.changed, failed: r.failed, unreachable: r.unreachable,
	}
	if !r.runStart.IsZero() {
		f.elapsed = now.Sub(r.runStart)
	}
	for _, h := range r.hosts {
		if h.state != hostInFlight || h.role != r.role {
			continue
		}
		s := slowHost{name: h.name, resource: h.resource, index: h.index, took: now.Sub(h.start)}
		f.insertSlow(s)
	}
}

// insertSlow keeps f.slow sorted slowest first, ties by name so the view
// does not jitter between redraws.
func (f *frame) insertSlow(s slowHost) {
	i := f.nslow
	for i > 0 && slower(s, f.slow[i-1]) {
		i--
	}
	if i >= slowShown {
		return
	}
	if f.nslow < slowShown {
		f.nslow++
	}
	copy(f.slow[i+1:f.nslow], f.slow[i:f.nslow-1])
	f.slow[i] = s
}

func slower(a, b slowHost) bool {
	if a.took != b.took {
		return a.took > b.took
	}
	return a.name < b.name
}

// progress is the text right of the bar.
func (r *ProgressReporter) progress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fr.progress()
}

func (f *frame) progress() string {
	return fmt.Sprintf("%d/%d hosts  %s", f.done, f.total, f.elapsed.Round(time.Second))
}

// status is the line of counts under the bar.
func (f *frame) status() string {
	return fmt.Sprintf("  changed %d  failed %d  unreachable %d  in flight %d", f.changed, f.failed, f.unreachable, f.inFlight)
}

// writeLine writes one line under the bar, or nothing when text gives "",
// which mpb then leaves out of the view.
func (r *ProgressReporter) writeLine(w io.Writer, text func(*frame) string, width int) error {
	r.mu.Lock()
	line := text(&r.fr)
	r.mu.Unlock()
	if line == "" {
		return nil
	}
	_, err := io.WriteString(w, truncate(line, width)+"\n")
	return err
}

func (f *frame) slowLine(i int) string {
	if i >= f.nslow {
		return ""
	}
	s := f.slow[i]
	on := s.resource
	switch {
	case on == "":
		on = "starting"
	case s.index > 0:
		on = fmt.Sprintf("[%d] %s", s.index, on)
	}
	return fmt.Sprintf("  %-20s %6s  %s", s.name, s.took.Round(100*time.Millisecond), on)
}

// truncate cuts s to width runes, marking the cut.
func truncate(s string, width int) string {
	if width <= 0 || len(s) <= width {
		return s
	}
	rs := []rune(s)
	if len(rs) <= width {
		return s
	}
	return string(rs[:width-1]) + "…"
}

// fillerBuilder draws the bar from the frame's counts rather than mpb's own
// current/total, so events never have to reach mpb's goroutines.
type fillerBuilder struct{ r *ProgressReporter }

func (b fillerBuilder) Build() mpb.BarFiller {
	inner := mpb.BarStyle().Lbound("[").Rbound("]").Filler("=").Tip(">").Padding("-").Build()
	return mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
		b.r.mu.Lock()
		st.Total, st.Current = int64(b.r.fr.total), int64(b.r.fr.done)
		b.r.mu.Unlock()
		if st.Total == 0 {
			st.Total = 1 // an empty bar, not a full one
		}
		return inner.Fill(w, st)
	})
}
