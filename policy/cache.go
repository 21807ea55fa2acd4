package policy

import (
	"sync"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
)

// parseCacheMax bounds each parse cache. A policy has a fixed set of
// template and expression sources, far fewer than this; a policy that
// builds sources per host (T("..." % name)) could grow it without end, so a
// full cache is emptied and fills again.
const parseCacheMax = 4096

// parseCache keeps parsed templates or expressions by source. What it holds
// is only read once parsed: gonja's renderer and evaluator keep their state
// in per-call contexts, so one parse serves every host at once. Parse errors
// are not kept: they end the host's run and are rare.
type parseCache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (c *parseCache[K, V]) get(key K, parse func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	// Two hosts may parse the same source at once; both results are
	// equal, and parsing outside the lock keeps hosts from queueing.
	v, err := parse()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= parseCacheMax {
		c.m = make(map[K]V)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v, nil
}

// templateKey names a template by its name too: the name appears in the
// errors gonja reports while rendering.
type templateKey struct{ name, src string }

var (
	templates parseCache[templateKey, *exec.Template]
	exprs     parseCache[string, nodes.Expression]
)
