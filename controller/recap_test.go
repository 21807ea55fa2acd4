package controller

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func recapSummary() *Summary {
	ms := time.Millisecond
	return &Summary{
		Hosts: []HostSummary{
			{Name: "web-1.example.com", HostStats: HostStats{OK: 12, Changed: 3, Duration: 1200 * ms}},
			{Name: "web-2", HostStats: HostStats{OK: 15, Duration: 800 * ms}},
			{Name: "db-1", HostStats: HostStats{OK: 4, Changed: 1, Failed: 1, Duration: 2500 * ms}},
			{Name: "db-2", HostStats: HostStats{Unreachable: true, Error: "dial tcp: connection refused", Duration: 3 * time.Second}},
			{Name: "cache-1", HostStats: HostStats{OK: 15, Duration: 650 * ms}},
			{Name: "cache-2", HostStats: HostStats{OK: 14, Changed: 1, Duration: 1900 * ms}},
			{Name: "lb", HostStats: HostStats{OK: 2, Error: "role when: undefined variable", Duration: 100 * ms}},
		},
		Elapsed: 3100 * ms,
		Aborted: "stopping: 2 of 7 hosts failed, more than max_fail_percentage 20%",
	}
}

func TestWriteRecapGolden(t *testing.T) {
	var buf bytes.Buffer
	WriteRecap(&buf, recapSummary(), false)
	golden := filepath.Join("testdata", "recap.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("recap differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Colours must not move columns: the coloured table, stripped of escapes,
// is the plain one.
func TestWriteRecapColorKeepsAlignment(t *testing.T) {
	var plain, colored bytes.Buffer
	WriteRecap(&plain, recapSummary(), false)
	WriteRecap(&colored, recapSummary(), true)
	if !ansi.MatchString(colored.String()) {
		t.Fatal("colour output has no escape codes")
	}
	if got := ansi.ReplaceAllString(colored.String(), ""); got != plain.String() {
		t.Errorf("coloured recap misaligned:\n%s\nplain:\n%s", got, plain.String())
	}
}

func TestWriteRecapSections(t *testing.T) {
	tests := []struct {
		name     string
		sum      *Summary
		want     []string
		dontWant []string
	}{
		{
			name: "slowest first, lists by kind",
			sum:  recapSummary(),
			want: []string{
				"slowest hosts:\n  db-2               3s\n  db-1               2.5s\n  cache-2            1.9s\n  web-1.example.com  1.2s\n  web-2              800ms\n",
				"changed hosts (3): web-1.example.com, db-1, cache-2\n",
				"failed hosts (2): db-1, lb\n",
				"unreachable hosts (1): db-2\n",
			},
		},
		{
			name: "few hosts: no slowest section, no empty lists",
			sum: &Summary{Hosts: []HostSummary{
				{Name: "a", HostStats: HostStats{OK: 1, Duration: time.Second}},
				{Name: "b", HostStats: HostStats{OK: 2, Duration: 2 * time.Second}},
			}},
			want:     []string{"a     1   0        0       no           1s\n"},
			dontWant: []string{"slowest", "changed hosts", "failed hosts", "unreachable hosts"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteRecap(&buf, tc.sum, false)
			got := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("recap lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("recap has %q:\n%s", w, got)
				}
			}
		})
	}
}
