package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
)

// allocBridge picks the lowest /22 of 10.213.0.0/16 that no address on this
// machine overlaps and puts it on a new bridge, holding the machine-wide
// lock so two fleets never pick the same block. The addresses themselves
// are the record of which blocks are taken: nothing to clean up on a crash
// beyond the bridge, which Sweep deletes.
func (f *Fleet) allocBridge(ctx context.Context) error {
	return withLock(func() error {
		used, err := usedBlocks(ctx)
		if err != nil {
			return err
		}
		b := -1
		for i := 0; i < numBlocks; i++ {
			if !used[i] {
				b = i
				break
			}
		}
		if b < 0 {
			return fmt.Errorf("fleet: all %d address blocks of %v are in use; run fleet.Sweep or delete stale %s* bridges", numBlocks, pool, DefaultPrefix)
		}
		br := bridgeName(f.Name)
		script := fmt.Sprintf("link add %[1]s type bridge\naddr add %[2]s/%[3]d dev %[1]s\nlink set %[1]s up\n", br, bridgeAddr(b), blockBits)
		if _, err := run(ctx, []byte(script), "ip", "-batch", "-"); err != nil {
			return fmt.Errorf("fleet: create bridge %s: %w", br, err)
		}
		f.block = b
		return nil
	})
}

// usedBlocks returns the blocks that any IPv4 address of the root namespace overlaps.
func usedBlocks(ctx context.Context) (map[int]bool, error) {
	out, err := run(ctx, nil, "ip", "-j", "-4", "addr", "show")
	if err != nil {
		return nil, fmt.Errorf("fleet: list addresses: %w", err)
	}
	var ifs []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &ifs); err != nil {
		return nil, fmt.Errorf("fleet: parse ip -j addr: %w", err)
	}
	used := map[int]bool{}
	for _, i := range ifs {
		for _, a := range i.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				continue
			}
			p, err := addr.Prefix(a.PrefixLen)
			if err != nil {
				continue
			}
			for b := 0; b < numBlocks; b++ {
				if blockPrefix(b).Overlaps(p) {
					used[b] = true
				}
			}
		}
	}
	return used, nil
}

// createNetwork makes every host's namespace and veth. Namespaces and links
// are created by one batched ip process each; only the addresses inside a
// namespace need a process per host (ip -batch has no per-line -n).
func (f *Fleet) createNetwork(ctx context.Context) error {
	var ns, links strings.Builder
	br := bridgeName(f.Name)
	for _, h := range f.Hosts {
		fmt.Fprintf(&ns, "netns add %s\n", h.Netns)
		fmt.Fprintf(&links, "link add %[1]s type veth peer name eth0 netns %[1]s\nlink set %[1]s master %[2]s up\n", h.Netns, br)
	}
	if _, err := run(ctx, []byte(ns.String()), "ip", "-batch", "-"); err != nil {
		return fmt.Errorf("fleet: create namespaces: %w", err)
	}
	if _, err := run(ctx, []byte(links.String()), "ip", "-batch", "-"); err != nil {
		return fmt.Errorf("fleet: create veths: %w", err)
	}
	return parallel(len(f.Hosts), runtime.NumCPU()*2, func(i int) error {
		h := f.Hosts[i]
		script := fmt.Sprintf("addr add %s/%d dev eth0\nlink set eth0 up\nlink set lo up\n", h.Addr, blockBits)
		if _, err := run(ctx, []byte(script), "ip", "-n", h.Netns, "-batch", "-"); err != nil {
			return fmt.Errorf("fleet: configure namespace %s: %w", h.Netns, err)
		}
		return nil
	})
}
