package worker

import (
	"context"
	"os"
	"runtime"
)

// GatherFacts collects what the host says about itself.
// (Extended by the system-resources work: distribution, kernel, memory,
// package and service managers, user facts from /etc/opsmop/facts.d.)
func GatherFacts(ctx context.Context) (map[string]any, error) {
	host, _ := os.Hostname()
	return map[string]any{
		"os":        runtime.GOOS,
		"arch":      runtime.GOARCH,
		"hostname":  host,
		"cpu_count": int64(runtime.NumCPU()),
	}, nil
}
