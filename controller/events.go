package controller

import (
	"time"

	"github.com/opsmop/opsmop/protocol"
)

// Event kinds, in the order a run produces them.
const (
	EvRunStart   = "run_start"
	EvRoleHosts  = "role_hosts" // a role is about to run; Batch.Hosts lists all its hosts
	EvBatch      = "batch"
	EvHostStart  = "host_start"
	EvConnected  = "connected"
	EvRoleStart  = "role_start"
	EvResStart   = "resource_start"
	EvOutput     = "output"
	EvResult     = "result"
	EvHandler    = "handler"
	EvHostDone   = "host_done"
	EvRunDone    = "run_done"
	EvLog        = "log"
	EvRoleSkip   = "role_skipped"
	EvUnreachabl = "unreachable"
)

// Event is one thing that happened during a run. Fields irrelevant to a kind
// are left empty, so the JSON form stays small.
type Event struct {
	Kind     string           `json:"event"`
	Time     time.Time        `json:"time"`
	Host     string           `json:"host,omitempty"`
	Role     string           `json:"role,omitempty"`
	Index    int              `json:"index,omitempty"` // resource number within the host's run, from 1
	Resource string           `json:"resource,omitempty"`
	Status   string           `json:"status,omitempty"`
	Actions  []string         `json:"actions,omitempty"`
	Stream   string           `json:"stream,omitempty"`
	Line     string           `json:"line,omitempty"`
	Result   *protocol.Result `json:"result,omitempty"`
	Error    string           `json:"error,omitempty"`
	Check    bool             `json:"check,omitempty"`
	Stats    *HostStats       `json:"stats,omitempty"`
	Summary  *Summary         `json:"summary,omitempty"`
	Batch    *BatchInfo       `json:"batch,omitempty"`
}

// BatchInfo describes a rolling batch of hosts.
type BatchInfo struct {
	Number int      `json:"number"`
	Of     int      `json:"of"`
	Hosts  []string `json:"hosts"`
}

// Reporter receives events. Calls come from many goroutines; a Reporter
// serialises them itself.
type Reporter interface {
	Report(Event)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event)

// Report calls f.
func (f ReporterFunc) Report(e Event) { f(e) }
