package controller

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/opsmop/opsmop/inventory"
	"github.com/opsmop/opsmop/policy"
)

// runRole runs one role on its hosts in rolling batches (role serial), each
// batch in parallel bounded by --forks.
func (r *runner) runRole(ctx context.Context, role *policy.Role, hosts []*inventory.Host) error {
	size, err := batchSize(role.Serial, len(hosts))
	if err != nil {
		return policyErr("%s: role %q: %w", role.Pos, role.Name, err)
	}
	batches := splitBatches(hosts, size)
	if role.Canary && len(hosts) > 1 {
		batches = append([][]*inventory.Host{hosts[:1]}, splitBatches(hosts[1:], size)...)
	}
	r.report(Event{Kind: EvRoleHosts, Role: role.Name, Batch: &BatchInfo{Of: len(batches), Hosts: hostNames(hosts)}})
	failed := 0
	for i, batch := range batches {
		if len(batches) > 1 {
			r.report(Event{Kind: EvBatch, Role: role.Name, Batch: &BatchInfo{Number: i + 1, Of: len(batches), Hosts: hostNames(batch)}})
		}
		failed += r.runBatch(ctx, role, batch)
		if ctx.Err() != nil {
			return nil
		}
		if role.Canary && i == 0 && failed > 0 && len(batches) > 1 {
			r.aborted = fmt.Sprintf("role %q: the canary host %s failed: remaining hosts not run", role.Name, batch[0].Name)
			r.report(Event{Kind: EvLog, Role: role.Name, Line: r.aborted})
			return nil
		}
		if why := exceedsMaxFail(role, failed, len(hosts)); why != "" && i < len(batches)-1 {
			r.aborted = why
			r.report(Event{Kind: EvLog, Role: role.Name, Line: why})
			return nil
		}
	}
	return nil
}

// runBatch runs the role on every host of a batch and returns how many failed.
func (r *runner) runBatch(ctx context.Context, role *policy.Role, batch []*inventory.Host) int {
	forks := r.opts.Forks
	if forks <= 0 || forks > len(batch) {
		forks = len(batch)
	}
	sem := make(chan struct{}, forks)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for _, h := range batch {
		hr := r.host(h)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !hr.runRoleSafely(ctx, role) {
				mu.Lock()
				failed++
				mu.Unlock()
			}
			if r.lastRole[h.Name] == role {
				hr.close() // done with this host: free its connection now
			}
		}()
	}
	wg.Wait()
	return failed
}

// batchSize turns serial ("", "5", "30%") into a batch size.
func batchSize(serial string, total int) (int, error) {
	serial = strings.TrimSpace(serial)
	if serial == "" || total == 0 {
		return total, nil
	}
	if pct, ok := strings.CutSuffix(serial, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || f <= 0 || f > 100 {
			return 0, fmt.Errorf("serial %q: want a count or a percentage from 1%% to 100%%", serial)
		}
		return max(1, int(math.Ceil(f*float64(total)/100))), nil
	}
	n, err := strconv.Atoi(serial)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("serial %q: want a positive count or a percentage", serial)
	}
	return n, nil
}

func splitBatches(hosts []*inventory.Host, size int) [][]*inventory.Host {
	if size <= 0 {
		size = len(hosts)
	}
	var out [][]*inventory.Host
	for len(hosts) > 0 {
		n := min(size, len(hosts))
		out = append(out, hosts[:n])
		hosts = hosts[n:]
	}
	return out
}

func exceedsMaxFail(role *policy.Role, failed, total int) string {
	if role.MaxFailPercentage == nil || total == 0 {
		return ""
	}
	pct := failed * 100 / total
	if failed*100 <= *role.MaxFailPercentage*total {
		return ""
	}
	return fmt.Sprintf("role %q: %d of %d hosts failed (%d%%), more than max_fail_percentage=%d%%: remaining batches not run",
		role.Name, failed, total, pct, *role.MaxFailPercentage)
}

func hostNames(hosts []*inventory.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}
