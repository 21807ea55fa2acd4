package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/e2e/fleet"
)

// batchEvent decodes the batch events of --json output.
type batchEvent struct {
	Kind  string `json:"event"`
	Batch *struct {
		Number int      `json:"number"`
		Of     int      `json:"of"`
		Hosts  []string `json:"hosts"`
	} `json:"batch"`
}

func batches(t *testing.T, stdout string) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev batchEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", line)
		}
		if ev.Kind == "batch" {
			out = append(out, ev.Batch.Hosts)
		}
	}
	return out
}

// rolloutInventory marks the named hosts to fail their command.
func (e *pushEnv) rolloutInventory(failing ...string) {
	extra := "[groups.web.vars]\nshould_fail = \"no\"\n"
	for _, h := range failing {
		extra += fmt.Sprintf("[hosts.%s.vars]\nshould_fail = \"yes\"\n", h)
	}
	e.writePolicyFile("inv.toml", e.inventory(extra))
}

func rolled(h *fleet.Host) bool {
	_, err := os.Stat(filepath.Join(h.Dir(), "rolled"))
	return err == nil
}

// TestRollingBatches runs serial batches against the fleet with hosts that
// fail on purpose, and checks the JSON stream and the recap against what
// happened on the hosts.
func TestRollingBatches(t *testing.T) {
	tests := []struct {
		name        string
		policy      string
		failing     []string
		wantBatches [][]string
		wantRolled  []string
		wantAborted string
	}{
		{"a failure under the limit lets every batch run", "rollout.star", []string{"host3"},
			[][]string{{"host0", "host1"}, {"host2", "host3"}, {"host4", "host5"}},
			[]string{"host0", "host1", "host2", "host4", "host5"}, ""},
		{"max_fail_percentage stops the remaining batches", "rollout.star", []string{"host1", "host2"},
			[][]string{{"host0", "host1"}, {"host2", "host3"}},
			[]string{"host0", "host3"}, "2 of 6 hosts failed (33%), more than max_fail_percentage=20%"},
		{"a good canary goes first, alone", "canary.star", nil,
			[][]string{{"host0"}, {"host1", "host2", "host3", "host4", "host5"}},
			[]string{"host0", "host1", "host2", "host3", "host4", "host5"}, ""},
		{"a failing canary stops the role", "canary.star", []string{"host0"},
			[][]string{{"host0"}}, nil, "the canary host host0 failed"},
	}
	e := newPushEnv(t, fleet.Options{Hosts: 6})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range e.f.Hosts {
				os.Remove(filepath.Join(h.Dir(), "rolled"))
			}
			e.rolloutInventory(tt.failing...)
			r := e.push("--apply", tt.policy)
			r.logSummary(t, tt.name)
			if got := batches(t, r.Stdout); !slices.EqualFunc(got, tt.wantBatches, slices.Equal) {
				t.Fatalf("batches %v, want %v", got, tt.wantBatches)
			}
			var gotRolled []string
			for _, h := range e.f.Hosts {
				if rolled(h) {
					gotRolled = append(gotRolled, h.Name)
				}
			}
			if !slices.Equal(gotRolled, tt.wantRolled) {
				t.Fatalf("hosts rolled %v, want %v", gotRolled, tt.wantRolled)
			}
			checkCounts(t, e, r, tt.failing)
			if tt.wantAborted != "" && !strings.Contains(r.Stdout, tt.wantAborted) {
				t.Fatalf("no event says %q", tt.wantAborted)
			}
			if wantCode := exitFor(tt.failing); r.Code != wantCode {
				t.Fatalf("exit %d, want %d", r.Code, wantCode)
			}
		})
	}
}

func exitFor(failing []string) int {
	if len(failing) > 0 {
		return 2
	}
	return 0
}

// checkCounts compares each host's summary line with its state on disk.
func checkCounts(t *testing.T, e *pushEnv, r *pushRun, failing []string) {
	t.Helper()
	if r.Summary == nil {
		t.Fatalf("no summary")
	}
	for _, hs := range r.Summary.Hosts {
		h := e.f.Hosts[hostIndex(t, e, hs.Name)]
		wantFailed := 0
		if slices.Contains(failing, hs.Name) {
			wantFailed = 1
		}
		wantChanged := 0
		if rolled(h) {
			wantChanged = 1
		}
		if hs.Failed != wantFailed || hs.Changed != wantChanged {
			t.Errorf("%s: summary failed=%d changed=%d, want %d and %d", hs.Name, hs.Failed, hs.Changed, wantFailed, wantChanged)
		}
	}
}

func hostIndex(t *testing.T, e *pushEnv, name string) int {
	for i, h := range e.f.Hosts {
		if h.Name == name {
			return i
		}
	}
	t.Fatalf("no host %s", name)
	return -1
}

// TestRecapText checks the people's recap against a run: each host's row
// has the counts that happened, and failed hosts are listed.
func TestRecapText(t *testing.T) {
	e := newPushEnv(t, fleet.Options{Hosts: 5}) // one failure in five is 20%: not more than the limit
	e.rolloutInventory("host1")
	cmd := e.command(t.Context(), "--apply", "rollout.star")
	cmd.Args = slices.DeleteFunc(cmd.Args, func(a string) bool { return a == "--json" })
	out, _ := cmd.Output()
	text := string(out)
	for _, want := range []string{"batch 1/3", "batch 3/3: host4", "failed hosts (1): host1", "changed hosts (4): host0, host2, host3, host4"} {
		if !strings.Contains(text, want) {
			t.Errorf("recap lacks %q:\n%s", want, text)
		}
	}
	for _, row := range [][]string{{"host0", "1", "1", "0"}, {"host1", "0", "0", "1"}, {"host2", "1", "1", "0"}} {
		if !hasRow(text, row) {
			t.Errorf("no recap row %v (host ok changed failed) in:\n%s", row, text)
		}
	}
}

// hasRow finds a line whose first fields are row.
func hasRow(text string, row []string) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(row) && slices.Equal(f[:len(row)], row) {
			return true
		}
	}
	return false
}
