package worker_test

import (
	"context"
	"fmt"
	"net"

	"github.com/opsmop/opsmop/protocol"
	"github.com/opsmop/opsmop/worker"
)

// A controller drives a worker over an in-memory connection: the handshake,
// then a run call whose events stream back as the command prints, then
// shutdown. Local and push mode do the same over pipes and SSH.
func ExampleServe() {
	ctlConn, workerConn := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- worker.Serve(context.Background(), workerConn, worker.ServeOptions{BuildHash: "example"})
	}()

	ctl, err := protocol.Client(ctlConn)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := ctl.Handshake(ctx, protocol.Hello{Version: protocol.Version, BuildHash: "example"}); err != nil {
		panic(err)
	}
	st, err := ctl.Open(ctx, protocol.MethodRun, protocol.RunRequest{Resources: []protocol.Resource{
		{ID: 1, Type: "shell", Name: "echo hello from the worker"},
	}})
	if err != nil {
		panic(err)
	}
	for {
		var f protocol.Frame
		if err := st.Recv(&f); err != nil {
			panic(err)
		}
		if f.Reply != nil {
			break
		}
		switch ev := f.Event; ev.Kind {
		case protocol.EventStart:
			fmt.Println("start", ev.ID)
		case protocol.EventOutput:
			fmt.Println(ev.Stream+":", ev.Line)
		case protocol.EventResult:
			fmt.Println("result", ev.Result.Status, ev.Result.Actions, "rc", ev.Result.RC)
		}
	}
	ctl.Call(ctx, protocol.MethodShutdown, struct{}{}, nil)
	fmt.Println("worker returned", <-done)
	// Output:
	// start 1
	// stdout: hello from the worker
	// result changed [run] rc 0
	// worker returned <nil>
}
