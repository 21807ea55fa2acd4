package worker

import (
	"context"
	"os"
	"runtime"
)

// FactsDir holds user facts: JSON and TOML files, and executables that print
// a JSON object. docs/facts.md lists every fact.
const FactsDir = "/etc/opsmop/facts.d"

// factSources are the places facts are read from; tests point them at
// fixtures.
type factSources struct {
	osRelease string // /etc/os-release
	meminfo   string // /proc/meminfo
	factsDir  string // FactsDir
	systemd   string // /run/systemd/system: present when systemd is PID 1
}

var defaultSources = factSources{
	osRelease: "/etc/os-release",
	meminfo:   "/proc/meminfo",
	factsDir:  FactsDir,
	systemd:   "/run/systemd/system",
}

// GatherFacts collects what the host says about itself, in one call. The
// worker's FactCache keeps the result for the run. A broken user facts file
// is an error naming the file; everything else degrades to empty values.
func GatherFacts(ctx context.Context) (map[string]any, error) {
	return gatherFacts(ctx, defaultSources)
}

func gatherFacts(ctx context.Context, src factSources) (map[string]any, error) {
	host, _ := os.Hostname()
	osr := readOSRelease(src.osRelease)
	un := unameFacts()
	facts := map[string]any{
		"os":                    runtime.GOOS,
		"arch":                  runtime.GOARCH,
		"architecture":          un.machine,
		"kernel":                un.release,
		"hostname":              host,
		"cpu_count":             int64(runtime.NumCPU()),
		"memory_mb":             memoryMB(src.meminfo),
		"distribution":          osr["ID"],
		"distribution_like":     osr["ID_LIKE"],
		"distribution_name":     osr["PRETTY_NAME"],
		"distribution_version":  osr["VERSION_ID"],
		"distribution_codename": osr["VERSION_CODENAME"],
		"os_family":             osFamily(osr),
		"package_manager":       packageManager(osr),
		"service_manager":       serviceManager(src.systemd),
	}
	user, err := userFacts(ctx, src.factsDir)
	if err != nil {
		return nil, err
	}
	facts["user"] = user
	return facts, nil
}
