package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/opsmop/opsmop/protocol"
)

// inlineLimit is the largest content sent inside a run request; larger
// content goes by reference and is fetched by the worker only when the
// target does not already hold it, on a stream of its own.
const inlineLimit = 64 << 10

// contentStore keeps file content by sha256 for the worker to fetch. One
// copy serves every host, however many hosts receive it.
type contentStore struct {
	mu   sync.RWMutex
	byID map[string][]byte
	// fileIDs are the sha256 of policy files by path: a file is read once
	// per run (runner.readFile), so hashing it once serves every host.
	fileIDs map[string]string
}

func newContentStore() *contentStore {
	return &contentStore{byID: map[string][]byte{}, fileIDs: map[string]string{}}
}

// add stores data and returns the parameters that describe it to a worker.
func (c *contentStore) add(data []byte) (key string, value any) {
	if len(data) <= inlineLimit {
		return "content", data
	}
	return contentRef(c.store(data), data)
}

// addFile is add for the content of the policy file rel, whose bytes are
// the same for the whole run: it is hashed on first use only.
func (c *contentStore) addFile(rel string, data []byte) (key string, value any) {
	if len(data) <= inlineLimit {
		return "content", data
	}
	c.mu.RLock()
	id, ok := c.fileIDs[rel]
	c.mu.RUnlock()
	if !ok {
		id = c.store(data)
		c.mu.Lock()
		c.fileIDs[rel] = id
		c.mu.Unlock()
	}
	return contentRef(id, data)
}

// store keeps data under its sha256 and returns that.
func (c *contentStore) store(data []byte) string {
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	c.mu.Lock()
	c.byID[id] = data
	c.mu.Unlock()
	return id
}

// contentRef describes content the worker fetches by id; a new map for each
// host, as the request that carries it is that host's.
func contentRef(id string, data []byte) (string, any) {
	return "content_ref", map[string]any{"sha256": id, "size": int64(len(data))}
}

func (c *contentStore) get(id string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.byID[id]
	return d, ok
}

// answer serves a worker's fetch call.
func (c *contentStore) answer(in *protocol.Incoming) {
	defer in.Close()
	if in.Method != protocol.MethodFetch {
		in.Send(protocol.FetchChunk{Err: "controller does not answer " + in.Method})
		return
	}
	var req protocol.FetchRequest
	if err := in.Decode(&req); err != nil {
		in.Send(protocol.FetchChunk{Err: err.Error()})
		return
	}
	data, ok := c.get(req.SHA256)
	if !ok {
		in.Send(protocol.FetchChunk{Err: "no content with sha256 " + req.SHA256})
		return
	}
	sendChunks(in, data)
}

func sendChunks(in *protocol.Incoming, data []byte) {
	for len(data) > 0 {
		n := min(len(data), protocol.FetchChunkSize)
		if err := in.Send(protocol.FetchChunk{Data: data[:n]}); err != nil {
			return
		}
		data = data[n:]
	}
	in.Send(protocol.FetchChunk{EOF: true})
}
