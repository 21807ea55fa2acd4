// Package worker executes resources on the host it runs on. It is reached
// only through the protocol package: `opsmop worker` serves a session on its
// stdin/stdout, started as a local child process or over SSH under sudo.
// Resources plan with query commands only, so check mode changes nothing.
package worker
