package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

// benchConn is one end of a pair of OS pipes, as the worker's stdin and
// stdout are: the benchmark pays for the same system calls a real session
// does.
type benchConn struct {
	r *os.File
	w *os.File
}

func (c benchConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c benchConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c benchConn) Close() error                { return errors.Join(c.r.Close(), c.w.Close()) }

func osPipePair(tb testing.TB) (ctl, wrk benchConn) {
	tb.Helper()
	r1, w1, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	return benchConn{r: r2, w: w1}, benchConn{r: r1, w: w2}
}

// benchWorkload is the workload of e2e/bench's policy, resolved as the
// controller sends it: two directories, ten small files with inline
// content, a 1 MiB file by reference, two commands guarded by creates; and
// the handler, sent in a run call of its own.
type benchWorkload struct {
	root      string
	resources []protocol.Resource
	handler   []protocol.Resource
	content   map[string][]byte
	cpu       time.Duration // process CPU time spent in sessions
}

func newBenchWorkload(root string) *benchWorkload {
	w := &benchWorkload{root: root, content: map[string][]byte{}}
	add := func(typ, name string, params map[string]any) {
		w.resources = append(w.resources, protocol.Resource{ID: len(w.resources) + 1, Type: typ, Name: name, Params: params})
	}
	add("directory", root+"/etc", map[string]any{"mode": 0o755})
	add("directory", root+"/data", map[string]any{"mode": 0o755})
	for i := range 10 {
		conf := fmt.Sprintf("# conf%d.ini for host1, written by the benchmark\n[host]\nname = host1\nroot = %s\nport = 8080\ntier = bench\nsection = %d\n", i, root, i)
		add("file", fmt.Sprintf("%s/etc/conf%d.ini", root, i), map[string]any{"content": []byte(conf), "mode": 0o644})
	}
	blob := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(blob)
	id := hex.EncodeToString(sum[:])
	w.content[id] = blob
	add("file", root+"/data/blob.bin", map[string]any{
		"content_ref": map[string]any{"sha256": id, "size": int64(len(blob))}, "mode": 0o644})
	add("shell", "echo one > "+root+"/data/one.done", map[string]any{"creates": root + "/data/one.done"})
	add("shell", "echo two > "+root+"/data/two.done", map[string]any{"creates": root + "/data/two.done"})
	w.handler = []protocol.Resource{{ID: 100, Type: "shell", Name: "date +%s.%N >> " + root + "/reload.log", Params: map[string]any{}}}
	return w
}

// session is what one host costs the worker: a session, the facts call,
// the run call and, when anything changed, the handler's run call.
func (w *benchWorkload) session(tb testing.TB, check bool) (changed int) {
	t0 := cpuTime()
	defer func() { w.cpu += cpuTime() - t0 }()
	ctlConn, wrkConn := osPipePair(tb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, wrkConn, ServeOptions{BuildHash: "bench"}) }()
	ctl, err := protocol.Client(ctlConn)
	if err != nil {
		tb.Fatal(err)
	}
	go serveContent(ctl, w.content)
	var facts protocol.FactsReply
	if err := ctl.Call(ctx, protocol.MethodFacts, protocol.FactsRequest{}, &facts); err != nil {
		tb.Fatal(err)
	}
	changed = runCall(tb, ctl, protocol.RunRequest{Check: check, Resources: w.resources})
	if changed > 0 {
		runCall(tb, ctl, protocol.RunRequest{Check: check, Resources: w.handler})
	}
	ctl.Close()
	ctlConn.Close()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return changed
}

// runCall makes a run call and counts changed results; a failed one fails tb.
func runCall(tb testing.TB, ctl *protocol.Session, req protocol.RunRequest) (changed int) {
	st, err := ctl.Open(context.Background(), protocol.MethodRun, req)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	for {
		var f protocol.Frame
		if err := st.Recv(&f); err != nil {
			tb.Fatalf("run: %v", err)
		}
		if f.Reply != nil {
			if err := protocol.DecodeReply(protocol.MethodRun, f.Reply, nil); err != nil {
				tb.Fatal(err)
			}
			return changed
		}
		if r := f.Event.Result; f.Event.Kind == protocol.EventResult {
			if r.Failed {
				tb.Fatalf("resource %d failed: %s", f.Event.ID, r.Msg)
			}
			if r.Changed {
				changed++
			}
		}
	}
}

// serveContent answers fetch calls as the controller's content store does.
func serveContent(ctl *protocol.Session, content map[string][]byte) {
	for {
		in, err := ctl.Accept()
		if err != nil {
			return
		}
		go answerFetch(in, content)
	}
}

// BenchmarkWorkerSession measures the worker's side of one host of
// e2e/bench: warm check and warm apply find everything in place, cold
// apply creates everything and runs the handler.
func BenchmarkWorkerSession(b *testing.B) {
	b.Run("warm-check", func(b *testing.B) { benchWarm(b, true) })
	b.Run("warm-apply", func(b *testing.B) { benchWarm(b, false) })
	b.Run("cold-apply", func(b *testing.B) {
		w := newBenchWorkload(b.TempDir())
		b.ReportAllocs()
		defer reportCPU(b, w)()
		for b.Loop() {
			b.StopTimer()
			if err := os.RemoveAll(w.root); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if n := w.session(b, false); n != len(w.resources) {
				b.Fatalf("cold apply changed %d resources, want %d", n, len(w.resources))
			}
		}
	})
}

func benchWarm(b *testing.B, check bool) {
	w := newBenchWorkload(b.TempDir())
	w.session(b, false)
	b.ReportAllocs()
	defer reportCPU(b, w)()
	for b.Loop() {
		if n := w.session(b, check); n != 0 {
			b.Fatalf("warm run changed %d resources", n)
		}
	}
}

// reportCPU adds the process's CPU time (user and system) per operation to
// b's results: wall time includes fsync waits and other load on the
// machine, CPU time is what the worker costs. The controller's half of the
// session runs in this process too and is included.
func reportCPU(b *testing.B, w *benchWorkload) (stop func()) {
	w.cpu = 0
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(w.cpu)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchWorkload checks that the benchmark's workload does what the
// benchmark assumes: all change cold, none warm, and the files hold their
// content.
func TestBenchWorkload(t *testing.T) {
	w := newBenchWorkload(filepath.Join(t.TempDir(), "root"))
	if n := w.session(t, true); n != len(w.resources) {
		t.Fatalf("cold check: %d changed, want %d", n, len(w.resources))
	}
	if n := w.session(t, false); n != len(w.resources) {
		t.Fatalf("cold apply: %d changed, want %d", n, len(w.resources))
	}
	for _, check := range []bool{true, false} {
		if n := w.session(t, check); n != 0 {
			t.Fatalf("warm run (check=%v): %d changed, want 0", check, n)
		}
	}
	for _, r := range w.resources {
		if r.Type != "file" {
			continue
		}
		got, err := os.ReadFile(r.Name)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := r.Params["content"].([]byte)
		if ref, ok := r.Params["content_ref"].(map[string]any); ok {
			want = w.content[ref["sha256"].(string)]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s holds %d bytes, not its content", r.Name, len(got))
		}
	}
}
