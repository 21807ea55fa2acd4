package controller

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/opsmop/opsmop/protocol"
	"github.com/opsmop/opsmop/worker"
)

// pipeDialer runs a real worker in-process on one end of a net.Pipe: the
// whole protocol without a child process or SSH.
func pipeDialer(t *testing.T, unreachable ...string) Dialer {
	return func(ctx context.Context, tg Target) (io.ReadWriteCloser, error) {
		for _, u := range unreachable {
			if tg.Host.Name == u {
				return nil, errors.New("dial tcp: connection refused")
			}
		}
		a, b := net.Pipe()
		go worker.Serve(context.Background(), b, worker.ServeOptions{})
		return a, nil
	}
}

// recorder keeps every event of a run.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Report(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) kind(kind string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// statuses lists "resource=status" for every result, in order per host.
func (r *recorder) statuses(host string) []string {
	var out []string
	for _, e := range r.kind(EvResult) {
		if host == "" || e.Host == host {
			out = append(out, e.Resource+"="+e.Status)
		}
	}
	return out
}

func (r *recorder) outputs() []string {
	var out []string
	for _, e := range r.kind(EvOutput) {
		out = append(out, e.Line)
	}
	return out
}

// writePolicy writes files (name → content) into a new folder and returns
// the path of policy.star in it. "ROOT" in any content becomes the folder.
func writePolicy(t *testing.T, files map[string]string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "ROOT", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "policy.star")
}

type runOpts func(*Options)

func runPolicy(t *testing.T, path string, check bool, mods ...runOpts) (*recorder, *Summary, error) {
	t.Helper()
	rec := &recorder{}
	opts := Options{PolicyPath: path, Check: check, Reporter: rec, Dial: pipeDialer(t)}
	for _, m := range mods {
		m(&opts)
	}
	sum, err := Run(context.Background(), opts)
	return rec, sum, err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

var _ = protocol.Version
