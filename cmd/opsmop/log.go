package main

import (
	"io"
	"os"
)

// workerLog is where worker stderr lines go: shown with --verbose only.
func workerLog(verbose bool) io.Writer {
	if verbose {
		return os.Stderr
	}
	return io.Discard
}
