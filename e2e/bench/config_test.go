package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// envInt reads a positive integer from the environment, or def when unset.
func envInt(name string, def int) (int, error) {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, s)
	}
	return n, nil
}

// envInts reads a comma-separated list of positive integers.
func envInts(name, def string) ([]int, error) {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		s = def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s=%q: want positive integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// envDuration reads a duration; a bare 0 is allowed.
func envDuration(name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		return def, nil
	}
	return parseDuration(name, s)
}

// envRTTs reads a comma-separated list of round-trip times. Toxiproxy's
// latency has millisecond resolution and is applied RTT/2 each way, so an
// RTT must be a whole, even number of milliseconds.
func envRTTs(name, def string) ([]time.Duration, error) {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		s = def
	}
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := parseDuration(name, strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if d%(2*time.Millisecond) != 0 {
			return nil, fmt.Errorf("%s=%q: %v is not a whole even number of milliseconds (the proxy adds RTT/2 each way in ms)", name, s, d)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseDuration(name, s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 20ms", name, s)
	}
	return d, nil
}
