package worker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

func init() {
	// A resource whose Plan panics, to prove the worker survives it.
	Register("test-panic", func(string, Params) (Resource, error) { return panicky{}, nil })
}

type panicky struct{}

func (panicky) Plan(context.Context, *Env) ([]string, error) { panic("plan exploded") }
func (panicky) Apply(context.Context, *Env, []string) (*protocol.Result, error) {
	return nil, nil
}

// testWorker is a worker serving on one end of an in-memory pipe, and the
// controller's session on the other.
type testWorker struct {
	ctl    *protocol.Session
	cancel context.CancelFunc
	done   chan error
	served atomic.Int32 // fetch calls the fake controller answered
	// announced gets what the worker announced, unasked, at the start.
	announced chan protocol.Announce
}

// startWorker runs Serve on a pipe. content is what the fake controller
// serves to fetch calls, by sha256.
func startWorker(t *testing.T, content map[string][]byte) *testWorker {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	w := &testWorker{cancel: cancel, done: make(chan error, 1), announced: make(chan protocol.Announce, 1)}
	go func() { w.done <- Serve(ctx, b, ServeOptions{BuildHash: "build-1"}) }()
	ctl, err := protocol.Client(a)
	if err != nil {
		t.Fatal(err)
	}
	w.ctl = ctl
	go w.serveFetch(content)
	t.Cleanup(func() {
		ctl.Close()
		cancel()
		<-w.done
	})
	return w
}

// serveFetch is the controller's side of fetch calls, as the chunk format
// in fetch.go describes it; it keeps the worker's announce.
func (w *testWorker) serveFetch(content map[string][]byte) {
	for {
		in, err := w.ctl.Accept()
		if err != nil {
			return
		}
		if in.Method == protocol.MethodAnnounce {
			var a protocol.Announce
			in.Decode(&a)
			in.Close()
			w.announced <- a
			continue
		}
		go func() {
			w.served.Add(1)
			answerFetch(in, content)
		}()
	}
}

// answerFetch answers one fetch call from content, by sha256, in chunks
// as the controller does.
func answerFetch(in *protocol.Incoming, content map[string][]byte) {
	defer in.Close()
	var req protocol.FetchRequest
	in.Decode(&req)
	data, ok := content[req.SHA256]
	if !ok {
		in.Send(protocol.FetchChunk{Err: "no such content"})
		return
	}
	for len(data) > 0 {
		n := min(len(data), protocol.FetchChunkSize)
		if in.Send(protocol.FetchChunk{Data: data[:n]}) != nil {
			return
		}
		data = data[n:]
	}
	in.Send(protocol.FetchChunk{EOF: true})
}

// run makes a run call and returns every event, in order.
func (w *testWorker) run(t *testing.T, req protocol.RunRequest) []protocol.Event {
	t.Helper()
	st, err := w.ctl.Open(context.Background(), protocol.MethodRun, req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var events []protocol.Event
	for {
		var f protocol.Frame
		if err := st.Recv(&f); err != nil {
			t.Fatalf("run: %v", err)
		}
		if f.Reply != nil {
			if err := protocol.DecodeReply(protocol.MethodRun, f.Reply, nil); err != nil {
				t.Fatal(err)
			}
			return events
		}
		events = append(events, *f.Event)
	}
}

// results picks the result events out of events.
func results(events []protocol.Event) []*protocol.Result {
	var out []*protocol.Result
	for _, e := range events {
		if e.Kind == protocol.EventResult {
			out = append(out, e.Result)
		}
	}
	return out
}

func shell(id int, cmd string) protocol.Resource {
	return protocol.Resource{ID: id, Type: "shell", Name: cmd}
}

func TestServeHello(t *testing.T) {
	tests := []struct {
		name    string
		build   string
		wantErr string
	}{
		{"same build", "build-1", ""},
		{"controller does not check", "", ""},
		{"other build", "build-2", "handshake: hello: worker build build-1 does not match controller build build-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorker(t, nil)
			h, err := w.ctl.Handshake(context.Background(), protocol.Hello{Version: protocol.Version, BuildHash: tt.build})
			if tt.wantErr != "" {
				var re *protocol.RemoteError
				if !errors.As(err, &re) || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.BuildHash != "build-1" || h.PID != os.Getpid() || h.Arch == "" || h.User == "" {
				t.Fatalf("hello %+v", h)
			}
		})
	}
}

func TestServeFacts(t *testing.T) {
	w := startWorker(t, nil)
	var rep protocol.FactsReply
	if err := w.ctl.Call(context.Background(), protocol.MethodFacts, protocol.FactsRequest{}, &rep); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if rep.Facts["hostname"] != host || rep.Facts["os"] != "linux" {
		t.Fatalf("facts %v", rep.Facts)
	}
}

func TestServeUnknownMethod(t *testing.T) {
	w := startWorker(t, nil)
	err := w.ctl.Call(context.Background(), "bogus", struct{}{}, nil)
	if err == nil || err.Error() != `bogus: worker does not answer "bogus"` {
		t.Fatalf("got %v", err)
	}
}

func TestServeRunStreamsOutputBeforeResult(t *testing.T) {
	w := startWorker(t, nil)
	events := w.run(t, protocol.RunRequest{Resources: []protocol.Resource{shell(7, "echo one; echo two >&2; echo three")}})
	var kinds []string
	for _, e := range events {
		if e.ID != 7 {
			t.Fatalf("event for id %d", e.ID)
		}
		k := e.Kind
		if e.Kind == protocol.EventOutput {
			k += ":" + e.Line
		}
		kinds = append(kinds, k)
	}
	if kinds[0] != "start" || kinds[len(kinds)-1] != "result" || len(kinds) != 5 {
		t.Fatalf("events %q", kinds)
	}
	res := events[len(events)-1].Result
	if res.Status != protocol.StatusChanged || res.Stdout != "one\nthree\n" || res.Stderr != "two\n" || res.Cmd == "" {
		t.Fatalf("result %+v", res)
	}
}

func TestServeRunStopsAtFailure(t *testing.T) {
	tests := []struct {
		name         string
		ignoreErrors bool
		want         []string
	}{
		{"stops", false, []string{"changed", "failed", "skipped", "skipped"}},
		{"ignore errors", true, []string{"changed", "failed", "changed", "changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorker(t, nil)
			bad := shell(2, "exit 4")
			bad.IgnoreErrors = tt.ignoreErrors
			events := w.run(t, protocol.RunRequest{Resources: []protocol.Resource{
				shell(1, "true"), bad, shell(3, "true"), shell(4, "true"),
			}})
			var got []string
			for _, r := range results(events) {
				got = append(got, r.Status)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("statuses %q, want %q", got, tt.want)
			}
			if r := results(events)[1]; r.RC != 4 || r.Msg != "command exited with status 4" {
				t.Fatalf("failed result %+v", r)
			}
		})
	}
}

func TestServeRunResourceErrors(t *testing.T) {
	w := startWorker(t, nil)
	events := w.run(t, protocol.RunRequest{Resources: []protocol.Resource{
		{ID: 1, Type: "shell", Name: "true", Params: map[string]any{"bogus": int64(1)}, IgnoreErrors: true},
		{ID: 2, Type: "nope", Name: "x", IgnoreErrors: true},
		{ID: 3, Type: "test-panic", Name: "x", IgnoreErrors: true},
		shell(4, "echo still alive"),
	}})
	rs := results(events)
	wantMsgs := []string{`shell: unknown parameter "bogus"`, `unknown resource type "nope"`, "internal error in test-panic resource: plan exploded"}
	for i, want := range wantMsgs {
		if rs[i].Status != protocol.StatusFailed || rs[i].Msg != want {
			t.Errorf("result %d: %+v, want msg %q", i+1, rs[i], want)
		}
	}
	if rs[3].Stdout != "still alive\n" {
		t.Fatalf("worker did not go on: %+v", rs[3])
	}
}

func TestServeCheckMode(t *testing.T) {
	w := startWorker(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	events := w.run(t, protocol.RunRequest{Check: true, Diff: true, Resources: []protocol.Resource{
		{ID: 1, Type: "file", Name: path, Params: map[string]any{"content": "a\n"}},
		shell(2, "touch "+filepath.Join(dir, "ran")),
	}})
	rs := results(events)
	if rs[0].Status != protocol.StatusChanged || rs[0].Actions[0] != "create" || !strings.Contains(rs[0].Diff, "+a") {
		t.Fatalf("file %+v", rs[0])
	}
	if rs[1].Status != protocol.StatusChanged || rs[1].Actions[0] != "run" {
		t.Fatalf("shell %+v", rs[1])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("check mode changed %v", entries)
	}
}

func TestServeFetchContentRef(t *testing.T) {
	data := bytes.Repeat([]byte("opsmop fetch test\n"), (3<<20)/18+1)[:3<<20]
	id := sha(data)
	corrupt := append([]byte{}, data...)
	corrupt[12345] ^= 1
	badID := sha(data[:100]) // served as corrupt content of the wrong size
	w := startWorker(t, map[string][]byte{id: data, badID: corrupt})
	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	req := protocol.RunRequest{Resources: []protocol.Resource{{ID: 1, Type: "file", Name: path, Params: map[string]any{
		"content_ref": map[string]any{"sha256": id, "size": int64(len(data))}, "mode": int64(0o640)}}}}

	rs := results(w.run(t, req))
	if rs[0].Status != protocol.StatusChanged || w.served.Load() != 1 {
		t.Fatalf("first run %+v, %d fetches", rs[0], w.served.Load())
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content differs (%d bytes, %v)", len(got), err)
	}
	if m := mode(t, path); m != 0o640 {
		t.Fatalf("mode %v", m)
	}

	rs = results(w.run(t, req))
	if rs[0].Status != protocol.StatusOK || w.served.Load() != 1 {
		t.Fatalf("second run %+v, %d fetches: content already there must not be fetched", rs[0], w.served.Load())
	}

	// Content that does not match its hash is never written.
	other := filepath.Join(dir, "other")
	rs = results(w.run(t, protocol.RunRequest{Resources: []protocol.Resource{{ID: 1, Type: "file", Name: other, Params: map[string]any{
		"content_ref": map[string]any{"sha256": badID, "size": int64(100)}}}}}))
	var mismatch = "fetched content " + badID[:12] + ": got"
	if rs[0].Status != protocol.StatusFailed || !strings.Contains(rs[0].Msg, mismatch) {
		t.Fatalf("corrupt fetch %+v", rs[0])
	}
	if _, err := os.Stat(other); err == nil {
		t.Fatal("corrupt content was written")
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Fatalf("temporary files left: %v", l)
	}

	// Content the controller does not have.
	rs = results(w.run(t, protocol.RunRequest{Resources: []protocol.Resource{{ID: 1, Type: "file", Name: other, Params: map[string]any{
		"content_ref": map[string]any{"sha256": sha([]byte("nope")), "size": int64(4)}}}}}))
	if rs[0].Status != protocol.StatusFailed || !strings.Contains(rs[0].Msg, "controller: no such content") {
		t.Fatalf("missing content %+v", rs[0])
	}
}

func TestServeShutdown(t *testing.T) {
	w := startWorker(t, nil)
	if err := w.ctl.Call(context.Background(), protocol.MethodShutdown, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-w.done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	w.done <- nil // for the cleanup
}

// TestServeEndKillsCommands ends the session while `sleep 100` runs, in
// each way a session ends, and checks that Serve returns with the process
// gone.
func TestServeEndKillsCommands(t *testing.T) {
	tests := []struct {
		name string
		end  func(w *testWorker)
	}{
		{"controller closes the session", func(w *testWorker) { w.ctl.Close() }},
		{"signal cancels the context", func(w *testWorker) { w.cancel() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorker(t, nil)
			st, err := w.ctl.Open(context.Background(), protocol.MethodRun, protocol.RunRequest{Resources: []protocol.Resource{
				shell(1, "echo $$; exec sleep 100")}})
			if err != nil {
				t.Fatal(err)
			}
			pid := 0
			for pid == 0 {
				var f protocol.Frame
				if err := st.Recv(&f); err != nil {
					t.Fatal(err)
				}
				if f.Event != nil && f.Event.Kind == protocol.EventOutput {
					if pid, err = strconv.Atoi(f.Event.Line); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("sleep is not running: %v", err)
			}
			tt.end(w)
			if err := <-w.done; err != nil {
				t.Fatalf("Serve returned %v", err)
			}
			w.done <- nil
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("sleep (pid %d) survived the session: %v", pid, err)
			}
		})
	}
}

// TestServeAnnounces: the first thing a worker sends is its hello and
// facts, unasked, so that a host costs the controller no round trip for them.
func TestServeAnnounces(t *testing.T) {
	w := startWorker(t, nil)
	var a protocol.Announce
	select {
	case a = <-w.announced:
	case <-time.After(10 * time.Second):
		t.Fatal("no announce from the worker")
	}
	if err := a.Check(protocol.Hello{Version: protocol.Version, BuildHash: "build-1"}); err != nil {
		t.Errorf("announce does not pass the controller's check: %v", err)
	}
	if a.Hello.PID != os.Getpid() || a.FactsErr != "" {
		t.Errorf("hello %+v, facts error %q", a.Hello, a.FactsErr)
	}
	if a.Facts["arch"] != runtime.GOARCH || a.Facts["hostname"] == "" {
		t.Errorf("facts %v", a.Facts)
	}
}
