package inventory_test

import (
	"fmt"
	"log"

	"github.com/opsmop/opsmop/inventory"
)

func Example() {
	inv, err := inventory.LoadTOML("testdata/inventory.toml")
	if err != nil {
		log.Fatal(err)
	}
	web, err := inv.Filter([]string{"webservers*"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range web.Hosts() {
		s, err := inventory.Resolve(h, inventory.RoleConn{}, &inventory.Defaults{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s groups=%v tier=%v port=%v -> %s port %d (address from %s)\n",
			h.Name, h.Groups, h.Vars["tier"], h.Vars["port"], s.Address, s.Port, s.Sources["address"])
	}
	// Output:
	// web1 groups=[webservers] tier=front port=8081 -> 10.0.0.5 port 22 (address from inventory opsmop_host)
	// web2 groups=[webservers dbservers] tier=db port=5432 -> 2001:db8::2 port 2222 (address from inventory opsmop_host)
}

func ExampleParseKV() {
	kv, err := inventory.ParseKV(`opsmop_host=10.0.0.5 motd='hello world' path="/srv/my app"`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kv["opsmop_host"], "|", kv["motd"], "|", kv["path"])
	// Output: 10.0.0.5 | hello world | /srv/my app
}
