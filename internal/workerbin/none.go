//go:build !opsmop_embedworker

package workerbin

import "io/fs"

// embedded is nil: this build carries no worker builds.
var embedded fs.FS
