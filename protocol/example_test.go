package protocol_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/opsmop/opsmop/protocol"
)

// Example shows one session: the handshake, then a run call whose events
// stream back before its reply.
func Example() {
	c, w := net.Pipe()
	controller, _ := protocol.Client(c)
	worker, _ := protocol.Server(w)
	defer controller.Close()
	defer worker.Close()

	go func() { // a worker that greets and echoes resource names as output
		in, _ := worker.Accept()
		protocol.AnswerHello(in, protocol.Hello{Version: protocol.Version})
		in, _ = worker.Accept()
		var req protocol.RunRequest
		in.Decode(&req)
		for _, r := range req.Resources {
			in.Event(protocol.Event{Kind: protocol.EventOutput, ID: r.ID, Line: "ran " + r.Name})
		}
		in.Reply(struct{}{}, nil)
	}()

	ctx := context.Background()
	if _, err := controller.Handshake(ctx, protocol.Hello{Version: protocol.Version}); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := controller.Open(ctx, protocol.MethodRun, protocol.RunRequest{Resources: []protocol.Resource{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}})
	for {
		var f protocol.Frame
		if err := st.Recv(&f); err != nil {
			fmt.Println(err)
			return
		}
		if f.Reply != nil {
			fmt.Println("done:", protocol.DecodeReply(protocol.MethodRun, f.Reply, nil))
			return
		}
		fmt.Println(f.Event.ID, f.Event.Line)
	}
	// Output:
	// 1 ran a
	// 2 ran b
	// done: <nil>
}

// ExampleSession_WatchPeer shows a worker finding out that its controller
// is gone although the connection stays open: the controller's end takes
// no bytes at all, as over a stalled network, so no ping is answered.
func ExampleSession_WatchPeer() {
	c, w := net.Pipe()
	defer c.Close()
	worker, _ := protocol.Server(w)
	worker.WatchPeer(10*time.Millisecond, func(err error) {
		fmt.Println("controller gone:", err)
	})
	<-worker.Done()
	fmt.Println("session ended")
	// Output:
	// controller gone: no ping answered for 30ms
	// session ended
}
