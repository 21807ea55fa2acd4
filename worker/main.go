package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/opsmop/opsmop/internal/buildinfo"
)

// RunStdio serves one controller session on stdin/stdout: what
// `opsmop worker` and the lean opsmop-worker binary both do. buildSHA256 is
// the hash the controller's bootstrap script verified this binary against
// just before it ran; passing it spares a worker start hashing its own
// megabytes again. Empty means nobody did (a worker started by hand, a
// local worker under sudo as another user), so the worker hashes itself for
// the handshake. sameBuild means the controller started this very
// executable (a local worker): there is no build to check, and the worker
// reports none.
func RunStdio(ctx context.Context, buildSHA256 string, sameBuild bool) error {
	forgetBootEnv()
	relaxGC(os.Getenv)
	if buildSHA256 == "" && !sameBuild {
		h, err := buildinfo.Hash()
		if err != nil {
			return err
		}
		buildSHA256 = h
	}
	// On a pty (sudo requiretty) stdout and stderr are one stream: logs
	// must go to a file, and the terminal must be raw.
	logTo, restore, err := PrepareStdio()
	if err != nil {
		return err
	}
	defer restore()
	return ServeStdio(ctx, ServeOptions{BuildHash: buildSHA256, Log: logTo})
}

// forgetBootEnv takes out of the environment what was set for the start
// alone, so the commands the worker runs get the host's defaults: the boot
// script's GOMAXPROCS=1 for the worker's own runtime, and the LC_ALL=C that
// keeps sudo's messages in English. A user's command runs in the host's
// locale, as with Ansible; the worker's own commands, whose output it
// reads, set C themselves (ownCommandEnv).
func forgetBootEnv() {
	os.Unsetenv("GOMAXPROCS")
	if os.Getenv("LC_ALL") == "C" {
		os.Unsetenv("LC_ALL")
	}
}

// workerGCPercent is the worker's GOGC. A worker lives for one run and
// keeps a heap of a few MiB, so Go's default (collect when the heap has
// doubled, from 4 MiB) spends a cold apply collecting what the process
// exit would free anyway: the yamux buffers and chunks of a copied file.
// The benchmark's workload, cold applies in local mode (perf stat, 30 runs
// each, three alternate pairs, GOGC=100 set for the worker against this
// default): 26.6/27.7/26.8 ms of CPU against 24.3/26.0/25.2; in push mode
// (BENCH=Processes, two pairs) the worker's cold apply went from 13.5/13.1
// to 12.3/11.7 ms. A warm check collects nothing either way. 400, not
// off, keeps memory bounded: a long copy still collects, whenever the
// heap has grown to five times what is live.
const workerGCPercent = 400

// relaxGC sets the worker's GC percent, unless GOGC is set: an operator
// who sets it on a host (a worker started by hand) knows better.
func relaxGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(workerGCPercent)
	}
}

// PrintFacts writes this machine's facts to out as indented JSON: the
// `facts` command of both binaries.
func PrintFacts(ctx context.Context, out io.Writer) error {
	facts, err := GatherFacts(ctx)
	if err != nil {
		return fmt.Errorf("gather facts: %w", err)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(facts)
}
