//go:build opsmop_embedworker

package workerbin

import (
	"embed"
	"io/fs"
)

//go:embed blobs
var blobs embed.FS

var embedded fs.FS = blobs
