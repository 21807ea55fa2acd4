package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

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
