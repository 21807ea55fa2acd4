package inventory

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPushDocExample pins the worked example of docs/push.md.
func TestPushDocExample(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defaults, err := LoadDefaultsFrom(write("defaults.toml", "[ssh]\nusername = \"ops\"\n[sudo]\npassword = \"from-defaults\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := LoadTOML(write("inventory.toml", "[groups.web.hosts]\nweb1 = \"opsmop_host=10.0.0.5:2222\"\n"+
		"web2 = \"opsmop_ssh_username=admin opsmop_sudo_password=from-inventory\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	sudo := true
	want := map[string][4]string{ // address, port, user, sudo password
		"web1": {"10.0.0.5", "2222", "ops", "from-defaults"},
		"web2": {"web2", "22", "admin", "from-inventory"},
	}
	for _, role := range []RoleConn{{Sudo: &sudo}, {Sudo: &sudo, SSHAs: &Credential{User: "deploy"}}} {
		for _, h := range inv.Hosts() {
			s, err := Resolve(h, role, defaults)
			if err != nil {
				t.Fatal(err)
			}
			w := want[h.Name]
			if role.SSHAs != nil {
				w[2] = "deploy"
			}
			got := [4]string{s.Address, strconv.Itoa(s.Port), s.User, deref(s.SudoPassword)}
			if got != w || !s.Sudo || s.SudoUser != "root" {
				t.Errorf("%s with %+v: got %v sudo=%v as %s, want %v", h.Name, role, got, s.Sudo, s.SudoUser, w)
			}
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
