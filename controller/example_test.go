package controller_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/opsmop/opsmop/controller"
	"github.com/opsmop/opsmop/worker"
)

// ExampleRun applies a policy through a worker running in this process: the
// same protocol that local mode speaks over pipes and push mode over SSH.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "opsmop-example")
	defer os.RemoveAll(dir)
	policy := filepath.Join(dir, "policy.star")
	os.WriteFile(policy, []byte(`
policy = Policy(roles=[Role("demo", resources=[
    File(T("{{ dir }}/motd"), from_content="hello\n", signals="told"),
    Shell("cat motd", chdir=T("{{ dir }}"), register="motd"),
    Echo("motd says {{ motd.stdout }}"),
], handlers={"told": Echo("motd changed")})])
`), 0o644)

	inProcess := func(ctx context.Context, t controller.Target) (io.ReadWriteCloser, error) {
		c, w := net.Pipe()
		go worker.Serve(context.Background(), w, worker.ServeOptions{})
		return c, nil
	}
	report := controller.ReporterFunc(func(e controller.Event) {
		switch e.Kind {
		case controller.EvResult:
			fmt.Printf("%s: %s\n", e.Resource[:4], e.Status)
		case controller.EvOutput:
			fmt.Println("  " + e.Line)
		}
	})
	sum, err := controller.Run(context.Background(), controller.Options{
		PolicyPath: policy, ExtraVars: map[string]any{"dir": dir}, Reporter: report, Dial: inProcess,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	changed, _ := sum.Changed()
	fmt.Println("changed:", changed)
	// Output:
	// file: changed
	//   hello
	// shel: changed
	// echo: ok
	//   motd says hello
	// echo: ok
	//   motd changed
	// changed: 2
}
