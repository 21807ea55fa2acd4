package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/stat; 100 on every Linux
// architecture Go runs on.
const clockTick = 100

// machineBusy returns the CPU time all cores have spent busy since boot
// (every /proc/stat field but idle and iowait). The fleet's hosts share this
// machine, so the difference over a run is the CPU the whole run cost: the
// controller, the sshds, sudo, the workers and the benchmark's proxies.
func machineBusy() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, s := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick
}
