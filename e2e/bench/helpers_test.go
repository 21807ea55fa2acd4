package bench

import (
	"strings"
	"testing"
	"time"
)

// The helpers run under a plain `go test`; the benchmarks only with -bench.

func TestEnvRTTs(t *testing.T) {
	tests := []struct {
		name, val string
		want      []time.Duration
		err       bool
	}{
		{"default", "", []time.Duration{0, 20 * time.Millisecond}, false},
		{"bare zero", "0", []time.Duration{0}, false},
		{"list", "0, 40ms", []time.Duration{0, 40 * time.Millisecond}, false},
		{"odd milliseconds", "15ms", nil, true},
		{"sub-millisecond", "500us", nil, true},
		{"garbage", "fast", nil, true},
		{"negative", "-20ms", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BENCH_RTT", tt.val)
			got, err := envRTTs("BENCH_RTT", "0,20ms")
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err == nil && !equalDurations(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEnvInt(t *testing.T) {
	tests := []struct {
		name, val string
		want      int
		err       bool
	}{
		{"default", "", 20, false},
		{"set", "50", 50, false},
		{"zero", "0", 0, true},
		{"word", "many", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BENCH_HOSTS", tt.val)
			got, err := envInt("BENCH_HOSTS", 20)
			if (err != nil) != tt.err || (err == nil && got != tt.want) {
				t.Fatalf("got %d, %v; want %d, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestReadEvents(t *testing.T) {
	stream := `not json, ignored
{"event":"run_start","time":"2026-01-01T00:00:00Z"}
{"event":"host_start","time":"2026-01-01T00:00:00.010Z","host":"a"}
{"event":"host_start","time":"2026-01-01T00:00:00.020Z","host":"b"}
{"event":"role_start","time":"2026-01-01T00:00:00.110Z","host":"a"}
{"event":"role_start","time":"2026-01-01T00:00:00.320Z","host":"b"}
{"event":"host_done","time":"2026-01-01T00:00:00.150Z","host":"a"}
{"event":"host_done","time":"2026-01-01T00:00:00.420Z","host":"b"}
{"event":"run_done","time":"2026-01-01T00:00:00.430Z","summary":{"check":false,"elapsed_ns":1,"hosts":[
{"host":"a","changed":2,"bytes_sent":100,"worker_bytes":40,"round_trips":2,"calls":3},
{"host":"b","changed":1,"bytes_sent":10,"worker_bytes":0,"round_trips":1,"calls":2}]}}
`
	// run_done's summary is on one line in real output; join it here.
	stream = strings.ReplaceAll(stream, "[\n", "[")
	stream = strings.ReplaceAll(stream, "},\n", "},")
	ev, err := readEvents(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 12, 31, 23, 59, 59, 900e6, time.UTC)
	end := time.Date(2026, 1, 1, 0, 0, 0, 500e6, time.UTC)
	r := ev.result(start, end)
	checks := []struct {
		name      string
		got, want any
	}{
		{"hosts", r.Hosts, 2},
		{"bytes", r.BytesSent, int64(110)},
		{"worker bytes", r.WorkerBytes, int64(40)},
		{"round trips", r.RoundTrips, 3},
		{"calls", r.Calls, 5},
		{"changed", r.Changed, 3},
		{"startup", r.Phases.Startup, 100 * time.Millisecond},
		{"spawn", r.Phases.Spawn, 20 * time.Millisecond},
		{"connect max", r.Phases.Connect.Max, 300 * time.Millisecond},
		{"resources max", r.Phases.Resources.Max, 100 * time.Millisecond},
		{"teardown", r.Phases.Teardown, 80 * time.Millisecond},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestRecapChanged(t *testing.T) {
	out := []byte(`PLAY RECAP *********************************************************************
host0                      : ok=6    changed=6    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
host1                      : ok=6    changed=5    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
`)
	if got := recapChanged(out); got != 11 {
		t.Fatalf("recapChanged = %d, want 11", got)
	}
}

func TestMedian(t *testing.T) {
	rs := []result{{Wall: 3}, {Wall: 1}, {Wall: 2}, {Wall: 0, Err: errTest}}
	if got := median(rs).Wall; got != 2 {
		t.Fatalf("median wall = %v, want 2 (failed runs left out)", got)
	}
	if got := median([]result{{Err: errTest}}); got.Err == nil {
		t.Fatal("median of failures must be a failure")
	}
}

var errTest = errorString("test")

type errorString string

func (e errorString) Error() string { return string(e) }
