package protocol

import (
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Version is bumped whenever a message changes shape. 2: the worker
// announces itself (MethodAnnounce) and the controller waits for that
// instead of asking. 3: RunRequest.KeepAlive.
const Version = 3

// Method names of calls.
const (
	MethodAnnounce = "announce" // worker → controller, unasked, first thing on a session: no reply
	MethodHello    = "hello"    // controller → worker: what announce says, when asked
	MethodFacts    = "facts"    // controller → worker
	MethodRun      = "run"      // controller → worker: run resources in order
	MethodShutdown = "shutdown" // controller → worker
	MethodFetch    = "fetch"    // worker → controller: file content by sha256
)

// Request opens every call.
type Request struct {
	Method string             `msgpack:"m"`
	Body   msgpack.RawMessage `msgpack:"b"`
}

// Reply ends every call. Err is empty on success.
type Reply struct {
	Err  string             `msgpack:"e,omitempty"`
	Body msgpack.RawMessage `msgpack:"b,omitempty"`
}

// Hello is exchanged in both directions at the start of a session.
type Hello struct {
	Version   int    `msgpack:"version"`
	BuildHash string `msgpack:"build"`
	PID       int    `msgpack:"pid,omitempty"`
	User      string `msgpack:"user,omitempty"`
	Arch      string `msgpack:"arch,omitempty"`
}

// Announce is what a worker says as soon as it starts, before anyone asks:
// its hello and its facts, which the controller needs before anything
// else. Pushed rather than asked for, they cost a host no round trip.
type Announce struct {
	Hello    Hello          `msgpack:"hello"`
	Facts    map[string]any `msgpack:"facts"`
	FactsErr string         `msgpack:"facts_err,omitempty"` // why Facts is missing
}

// FactsRequest asks the worker for its facts. Refresh discards the cache.
type FactsRequest struct {
	Refresh bool `msgpack:"refresh"`
}

// FactsReply carries the facts as plain msgpack values.
type FactsReply struct {
	Facts map[string]any `msgpack:"facts"`
}

// RunRequest asks the worker to run resources in order. The worker stops at
// the first failed resource whose IgnoreErrors is false; the rest are
// reported as skipped.
type RunRequest struct {
	Check     bool       `msgpack:"check"`
	Diff      bool       `msgpack:"diff"`
	Resources []Resource `msgpack:"resources"`
	// KeepAlive asks the worker to ping the controller at this interval
	// and to end the session when none is answered for three (WatchPeer);
	// zero, as over a local pipe, asks for no pings.
	KeepAlive time.Duration `msgpack:"keepalive,omitempty"`
}

// Resource is a fully resolved resource: every template is rendered and every
// condition decided by the controller before it is sent.
type Resource struct {
	ID           int            `msgpack:"id"`   // position in the controller's run, echoed in events
	Type         string         `msgpack:"type"` // "file", "directory", "shell", "package", ...
	Name         string         `msgpack:"name"`
	Params       map[string]any `msgpack:"params"`
	IgnoreErrors bool           `msgpack:"ignore_errors,omitempty"`
}

// ContentRef names file content the worker fetches from the controller
// (MethodFetch) only if the target does not already hold it.
type ContentRef struct {
	SHA256 string `msgpack:"sha256"`
	Size   int64  `msgpack:"size"`
}

// Statuses of a resource result.
const (
	StatusOK      = "ok"
	StatusChanged = "changed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Result is what one resource did (or, in check mode, would do).
type Result struct {
	Status  string         `msgpack:"status" json:"status"`
	Actions []string       `msgpack:"actions,omitempty" json:"actions,omitempty"` // the plan
	Changed bool           `msgpack:"changed" json:"changed"`
	Failed  bool           `msgpack:"failed" json:"failed"`
	RC      int            `msgpack:"rc" json:"rc"`
	Stdout  string         `msgpack:"stdout,omitempty" json:"stdout,omitempty"`
	Stderr  string         `msgpack:"stderr,omitempty" json:"stderr,omitempty"`
	Cmd     string         `msgpack:"cmd,omitempty" json:"cmd,omitempty"`
	Msg     string         `msgpack:"msg,omitempty" json:"msg,omitempty"`
	Diff    string         `msgpack:"diff,omitempty" json:"diff,omitempty"`
	Data    map[string]any `msgpack:"data,omitempty" json:"data,omitempty"`
}

// Event kinds streamed during a run call.
const (
	EventStart  = "start"  // a resource begins
	EventOutput = "output" // one line of command output
	EventResult = "result" // a resource finished; Result is set
	EventLog    = "log"    // a worker log line
)

// Event is streamed by the worker while a call runs.
type Event struct {
	Kind   string  `msgpack:"k"`
	ID     int     `msgpack:"id"`
	Stream string  `msgpack:"s,omitempty"` // "stdout" or "stderr" for output
	Line   string  `msgpack:"l,omitempty"`
	Result *Result `msgpack:"r,omitempty"`
}

// Frame is what a run stream carries: an Event, or, last, the Reply.
type Frame struct {
	Event *Event `msgpack:"ev,omitempty"`
	Reply *Reply `msgpack:"re,omitempty"`
}

// FetchRequest asks the controller for content by hash.
type FetchRequest struct {
	SHA256 string `msgpack:"sha256"`
}

// FetchChunk is one piece of fetched content; the last has EOF set.
type FetchChunk struct {
	Data []byte `msgpack:"d,omitempty"`
	EOF  bool   `msgpack:"eof,omitempty"`
	Err  string `msgpack:"e,omitempty"`
}

// FetchChunkSize keeps chunks small enough to interleave with other streams.
const FetchChunkSize = 256 << 10

// StatusFromFlags is the status that Failed and Changed imply.
func (r *Result) StatusFromFlags() string {
	switch {
	case r.Failed:
		return StatusFailed
	case r.Changed:
		return StatusChanged
	}
	return StatusOK
}
