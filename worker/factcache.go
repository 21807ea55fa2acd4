package worker

import (
	"context"
	"sync"
)

// FactCache gathers facts once and keeps them until a resource invalidates
// them, so a run pays for fact gathering once.
type FactCache struct {
	mu    sync.Mutex
	facts map[string]any
}

// Get returns the cached facts, gathering them first if needed.
func (c *FactCache) Get(ctx context.Context, refresh bool) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.facts != nil && !refresh {
		return c.facts, nil
	}
	f, err := GatherFacts(ctx)
	if err != nil {
		return nil, err
	}
	c.facts = f
	return f, nil
}

// Invalidate drops the cache; the next Get gathers again.
func (c *FactCache) Invalidate() {
	c.mu.Lock()
	c.facts = nil
	c.mu.Unlock()
}
