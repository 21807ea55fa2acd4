package controller

import (
	"sort"
	"time"
)

// HostStats counts what happened on one host.
type HostStats struct {
	OK          int           `json:"ok"`
	Changed     int           `json:"changed"`
	Failed      int           `json:"failed"`
	Skipped     int           `json:"skipped"`
	Ignored     int           `json:"ignored"` // failures let pass by ignore_errors
	Actions     int           `json:"actions"`
	Unreachable bool          `json:"unreachable,omitempty"`
	Error       string        `json:"error,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	BytesSent   int64         `json:"bytes_sent"`
	WorkerBytes int64         `json:"worker_bytes"`
	RoundTrips  int           `json:"round_trips"`
	Calls       int           `json:"calls"` // protocol calls made to the worker
}

// HostSummary is one host's line in the recap.
type HostSummary struct {
	Name string `json:"host"`
	HostStats
}

// Summary is the recap of a run.
type Summary struct {
	Check   bool          `json:"check"`
	Hosts   []HostSummary `json:"hosts"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Aborted string        `json:"aborted,omitempty"` // why remaining batches did not run
}

// Changed counts changed resources over all hosts.
func (s *Summary) Changed() (resources, actions int) {
	for _, h := range s.Hosts {
		resources += h.Changed
		actions += h.Actions
	}
	return resources, actions
}

// FailedHosts lists hosts with a failed resource or an error.
func (s *Summary) FailedHosts() []string {
	return s.names(func(h HostSummary) bool { return !h.Unreachable && (h.Failed > 0 || h.Error != "") })
}

// UnreachableHosts lists hosts that could not be reached.
func (s *Summary) UnreachableHosts() []string {
	return s.names(func(h HostSummary) bool { return h.Unreachable })
}

// ChangedHosts lists hosts where something changed.
func (s *Summary) ChangedHosts() []string {
	return s.names(func(h HostSummary) bool { return h.Changed > 0 })
}

func (s *Summary) names(keep func(HostSummary) bool) []string {
	var out []string
	for _, h := range s.Hosts {
		if keep(h) {
			out = append(out, h.Name)
		}
	}
	return out
}

// Slowest returns up to n hosts, slowest first.
func (s *Summary) Slowest(n int) []HostSummary {
	hs := append([]HostSummary(nil), s.Hosts...)
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Duration > hs[j].Duration })
	if len(hs) > n {
		hs = hs[:n]
	}
	return hs
}

// Failed reports whether any host failed or was unreachable.
func (s *Summary) Failed() bool {
	return len(s.FailedHosts()) > 0 || len(s.UnreachableHosts()) > 0
}
