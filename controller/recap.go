package controller

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// recapSlowest is how many hosts the recap names as the slowest.
const recapSlowest = 5

// plainColor is the terminal's default foreground. Every cell of a coloured
// table is wrapped in a colour of the same length (5 bytes) and a reset, so
// tabwriter, which counts escape bytes as width, still lines columns up.
const plainColor = "\x1b[39m"

// WriteRecap prints the end of a push run: a table of every host (ok,
// changed, failed, unreachable, duration), the slowest hosts when there are
// more than recapSlowest, the changed, failed and unreachable hosts by name,
// and why remaining batches were cancelled.
func WriteRecap(w io.Writer, s *Summary, color bool) {
	if s == nil {
		return
	}
	paint := func(c, text string) string {
		if !color {
			return text
		}
		return c + text + reset
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join([]string{
		paint(plainColor, "host"), paint(plainColor, "ok"), paint(plainColor, "changed"),
		paint(plainColor, "failed"), paint(plainColor, "unreachable"), paint(plainColor, "duration"),
	}, "\t"))
	for _, h := range s.Hosts {
		fmt.Fprintln(tw, strings.Join([]string{
			paint(hostColor(h), h.Name),
			paint(plainColor, fmt.Sprint(h.OK)),
			paint(countColor(h.Changed, yellow), fmt.Sprint(h.Changed)),
			paint(countColor(h.Failed, red), fmt.Sprint(h.Failed)),
			paint(countColor(boolCount(h.Unreachable), red), yesNo(h.Unreachable)),
			paint(plainColor, h.Duration.Round(time.Millisecond).String()),
		}, "\t"))
	}
	if len(s.Hosts) > recapSlowest {
		fmt.Fprintln(tw, "\nslowest hosts:")
		for _, h := range s.Slowest(recapSlowest) {
			fmt.Fprintf(tw, "  %s\t%s\n", h.Name, h.Duration.Round(time.Millisecond))
		}
	}
	tw.Flush()
	lists := []struct {
		label, color string
		hosts        []string
	}{
		{"changed hosts", yellow, s.ChangedHosts()},
		{"failed hosts", red, s.FailedHosts()},
		{"unreachable hosts", red, s.UnreachableHosts()},
	}
	for _, l := range lists {
		if len(l.hosts) == 0 {
			continue
		}
		label := paint(l.color, fmt.Sprintf("%s (%d):", l.label, len(l.hosts)))
		fmt.Fprintln(w, label, strings.Join(l.hosts, ", "))
	}
	if s.Aborted != "" {
		fmt.Fprintln(w, paint(red, s.Aborted))
	}
}

func hostColor(h HostSummary) string {
	switch {
	case h.Unreachable || h.Failed > 0 || h.Error != "":
		return red
	case h.Changed > 0:
		return yellow
	}
	return green
}

func countColor(n int, c string) string {
	if n > 0 {
		return c
	}
	return plainColor
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
