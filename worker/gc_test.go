package worker

import (
	"runtime/debug"
	"testing"
)

func TestRelaxGC(t *testing.T) {
	tests := []struct {
		name string
		gogc string
		want int
	}{
		{"GOGC unset: the worker's own percent", "", workerGCPercent},
		{"GOGC set on the host: left as the runtime read it", "100", 100},
		{"GOGC=off on the host: left off", "off", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The runtime read GOGC at start; stand in for that.
			start := tt.want
			if tt.gogc == "" {
				start = 100
			}
			orig := debug.SetGCPercent(start)
			t.Cleanup(func() { debug.SetGCPercent(orig) })
			relaxGC(func(k string) string {
				if k == "GOGC" {
					return tt.gogc
				}
				return ""
			})
			if got := debug.SetGCPercent(orig); got != tt.want {
				t.Errorf("GC percent = %d, want %d", got, tt.want)
			}
		})
	}
}
