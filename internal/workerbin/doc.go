// Package workerbin holds the worker-only builds (cmd/opsmop-worker) that a
// release build of opsmop carries inside itself, one per architecture,
// zstd-compressed, with the sha256 of each uncompressed binary.
//
// The controller uploads these to hosts instead of its own executable: the
// worker build is a quarter of the size, and a host hashes the cached worker
// on every start and downloads it on the first. `make build` writes them
// with `go run ./internal/workerbin/pack` and compiles opsmop with the
// opsmop_embedworker tag. Built without the tag (a plain `go build`), opsmop
// carries none, and the controller copies its own executable, which serves
// the same protocol through `opsmop worker`.
package workerbin
