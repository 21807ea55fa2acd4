package bench

import (
	"strings"
	"testing"
	"time"
)

func TestSamplesByProcess(t *testing.T) {
	report := `# Samples: 6K of event 'cpu-clock:ppp'
#
# Overhead       Samples  Command
# ........  ............  ...............
#
    45.02%          3135  sshd
    12.00%           999  opsmop-2397acc7
     5.00%           300  opsmop-push
     1.00%            50  swapper
     0.10%             2  kworker/u8:2-kv
`
	got := samplesByProcess(strings.NewReader(report), 1000)
	want := map[string]time.Duration{
		"sshd":                     3135 * time.Millisecond,
		"worker (opsmop-<sha256>)": 999 * time.Millisecond,
		"controller (opsmop-push)": 300 * time.Millisecond,
		"idle":                     50 * time.Millisecond,
		"kworker/u8:2-kv":          2 * time.Millisecond,
	}
	if len(got) != len(want) {
		t.Errorf("got %d processes, want %d: %v", len(got), len(want), got)
	}
	for name, d := range want {
		if got[name] != d {
			t.Errorf("%s: %v, want %v", name, got[name], d)
		}
	}
}
