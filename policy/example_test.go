package policy_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opsmop/opsmop/policy"
)

func Example() {
	dir, _ := os.MkdirTemp("", "policy-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "site.star")
	os.WriteFile(path, []byte(`
def per_host(host):
    return [Echo(T("hello {{ who }} from " + host.name))]

policy = Policy(
    variables={"who": "world"},
    roles=[Role("greet", resources=per_host)],
)
`), 0o644)

	p, err := policy.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	x, err := p.Roles[0].Expand(policy.Host{Name: "web1", Vars: p.Variables})
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := policy.Resolve(x.Resources[0].Params["msg"], p.Variables)
	fmt.Println(x.Resources[0].Type, msg, err)
	// Output: echo hello world from web1 <nil>
}
