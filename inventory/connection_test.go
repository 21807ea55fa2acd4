package inventory

import (
	"maps"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }

// testDefaults is a defaults file that sets every field.
func testDefaults() *Defaults {
	d := &Defaults{Path: "/home/u/.opsmop/defaults.toml"}
	d.SSH.Username, d.SSH.Password, d.SSH.CheckHostKeys = "d-user", "d-pw", "accept-new"
	d.SSH.IdentityFiles = []string{"/keys/d"}
	d.Sudo.Username, d.Sudo.Password, d.Sudo.Enabled = "d-sudo", "d-sudo-pw", bp(true)
	return d
}

// magicVars sets every magic variable.
func magicVars() map[string]any {
	return map[string]any{
		"opsmop_host": "10.0.0.5", "opsmop_port": int64(2222),
		"opsmop_ssh_username": "i-user", "opsmop_ssh_password": "i-pw",
		"opsmop_sudo_username": "i-sudo", "opsmop_sudo_password": "i-sudo-pw",
		"opsmop_ssh_check_host_keys": false, "opsmop_identity_file": "/keys/i",
		"opsmop_connection": "local",
	}
}

// fullRole sets every role field.
func fullRole() RoleConn {
	return RoleConn{
		SSHAs:         &Credential{User: "r-user", Password: sp("r-pw")},
		SudoAs:        &Credential{User: "r-sudo", Password: sp("r-sudo-pw")},
		Sudo:          bp(false),
		CheckHostKeys: "true",
	}
}

func allSources(src string) map[string]string {
	m := map[string]string{}
	for _, f := range SourceFields {
		m[f] = src
	}
	return m
}

func TestResolvePrecedence(t *testing.T) {
	me := currentUser()
	tests := []struct {
		name string
		vars map[string]any
		role RoleConn
		d    *Defaults
		want ConnSettings
	}{
		{
			name: "built-in defaults",
			d:    nil,
			want: ConnSettings{Name: "web1", Address: "web1", Port: 22, User: me, SudoUser: "root",
				CheckHostKeys: "true", Connection: "ssh", Sources: allSources("default")},
		},
		{
			name: "defaults file over built-ins",
			d:    testDefaults(),
			want: ConnSettings{Name: "web1", Address: "web1", Port: 22, User: "d-user", Password: sp("d-pw"),
				Sudo: true, SudoUser: "d-sudo", SudoPassword: sp("d-sudo-pw"), CheckHostKeys: "accept-new",
				IdentityFiles: []string{"/keys/d"}, Connection: "ssh",
				Sources: map[string]string{"keepalive": "default",
					"address": "default", "port": "default", "connection": "default",
					"user": "/home/u/.opsmop/defaults.toml", "password": "/home/u/.opsmop/defaults.toml",
					"sudo": "/home/u/.opsmop/defaults.toml", "sudo_user": "/home/u/.opsmop/defaults.toml",
					"sudo_password": "/home/u/.opsmop/defaults.toml", "check_host_keys": "/home/u/.opsmop/defaults.toml",
					"identity_files": "/home/u/.opsmop/defaults.toml",
				}},
		},
		{
			name: "inventory over defaults file",
			vars: magicVars(),
			d:    testDefaults(),
			want: ConnSettings{Name: "web1", Address: "10.0.0.5", Port: 2222, User: "i-user", Password: sp("i-pw"),
				Sudo: true, SudoUser: "i-sudo", SudoPassword: sp("i-sudo-pw"), CheckHostKeys: "false",
				IdentityFiles: []string{"/keys/i"}, Connection: "local",
				Sources: map[string]string{"keepalive": "default",
					"address": "inventory opsmop_host", "port": "inventory opsmop_port",
					"user": "inventory opsmop_ssh_username", "password": "inventory opsmop_ssh_password",
					"sudo": "/home/u/.opsmop/defaults.toml", "sudo_user": "inventory opsmop_sudo_username",
					"sudo_password": "inventory opsmop_sudo_password", "check_host_keys": "inventory opsmop_ssh_check_host_keys",
					"identity_files": "inventory opsmop_identity_file", "connection": "inventory opsmop_connection",
				}},
		},
		{
			name: "role over inventory",
			vars: magicVars(),
			role: fullRole(),
			d:    testDefaults(),
			want: ConnSettings{Name: "web1", Address: "10.0.0.5", Port: 2222, User: "r-user", Password: sp("r-pw"),
				Sudo: false, SudoUser: "r-sudo", SudoPassword: sp("r-sudo-pw"), CheckHostKeys: "true",
				IdentityFiles: []string{"/keys/i"}, Connection: "local",
				Sources: map[string]string{"keepalive": "default",
					"address": "inventory opsmop_host", "port": "inventory opsmop_port",
					"user": "role", "password": "role", "sudo": "role", "sudo_user": "role",
					"sudo_password": "role", "check_host_keys": "role",
					"identity_files": "inventory opsmop_identity_file", "connection": "inventory opsmop_connection",
				}},
		},
		{
			name: "role None parts fall through",
			vars: map[string]any{"opsmop_ssh_password": "i-pw"},
			role: RoleConn{SSHAs: &Credential{User: "r-user"}, SudoAs: &Credential{Password: sp("r-sudo-pw")}},
			d:    testDefaults(),
			want: ConnSettings{Name: "web1", Address: "web1", Port: 22, User: "r-user", Password: sp("i-pw"),
				Sudo: true, SudoUser: "d-sudo", SudoPassword: sp("r-sudo-pw"), CheckHostKeys: "accept-new",
				IdentityFiles: []string{"/keys/d"}, Connection: "ssh",
				Sources: map[string]string{"keepalive": "default",
					"address": "default", "port": "default", "connection": "default",
					"user": "role", "password": "inventory opsmop_ssh_password",
					"sudo": "/home/u/.opsmop/defaults.toml", "sudo_user": "/home/u/.opsmop/defaults.toml",
					"sudo_password": "role", "check_host_keys": "/home/u/.opsmop/defaults.toml",
					"identity_files": "/home/u/.opsmop/defaults.toml",
				}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(&Host{Name: "web1", Vars: tt.vars}, tt.role, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve:\n got %+v\nwant %+v", got, tt.want)
				for k := range maps.Keys(tt.want.Sources) {
					if got.Sources[k] != tt.want.Sources[k] {
						t.Errorf("source of %s = %q, want %q", k, got.Sources[k], tt.want.Sources[k])
					}
				}
			}
		})
	}
}

func TestResolveAddress(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]any
		addr string
		port int
	}{
		{"name", map[string]any{"opsmop_host": "web1.example.com"}, "web1.example.com", 22},
		{"host:port", map[string]any{"opsmop_host": "10.0.0.5:2200"}, "10.0.0.5", 2200},
		{"bare ipv6", map[string]any{"opsmop_host": "2001:db8::5"}, "2001:db8::5", 22},
		{"bracketed ipv6", map[string]any{"opsmop_host": "[2001:db8::5]"}, "2001:db8::5", 22},
		{"ipv6 with port", map[string]any{"opsmop_host": "[2001:db8::5]:2200"}, "2001:db8::5", 2200},
		{"port as string", map[string]any{"opsmop_port": "2201"}, "web1", 2201},
		{"port in both, agreeing", map[string]any{"opsmop_host": "h:2202", "opsmop_port": int64(2202)}, "h", 2202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(&Host{Name: "web1", Vars: tt.vars}, RoleConn{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Address != tt.addr || got.Port != tt.port {
				t.Errorf("address %q port %d, want %q %d", got.Address, got.Port, tt.addr, tt.port)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]any
		role RoleConn
		d    *Defaults
		want string
	}{
		{"port not a number", map[string]any{"opsmop_port": "ssh"}, RoleConn{}, nil, `host "web1": opsmop_port: port "ssh" is not a number`},
		{"port out of range", map[string]any{"opsmop_port": int64(70000)}, RoleConn{}, nil, `host "web1": opsmop_port: port 70000 out of range 1-65535`},
		{"port a float", map[string]any{"opsmop_port": 22.5}, RoleConn{}, nil, `host "web1": opsmop_port: want a port number, got a float`},
		{"bad port in opsmop_host", map[string]any{"opsmop_host": "h:x"}, RoleConn{}, nil, `host "web1": opsmop_host: bad address "h:x": port "x" is not a number`},
		{"empty opsmop_host", map[string]any{"opsmop_host": ""}, RoleConn{}, nil, `host "web1": opsmop_host: empty address`},
		{"bad brackets", map[string]any{"opsmop_host": "[::1"}, RoleConn{}, nil, `host "web1": opsmop_host: bad address "[::1": want host, host:port or [ipv6]:port`},
		{"ports disagree", map[string]any{"opsmop_host": "h:2200", "opsmop_port": int64(22)}, RoleConn{}, nil, `host "web1": opsmop_host says port 2200 but opsmop_port says 22`},
		{"host not a string", map[string]any{"opsmop_host": int64(1)}, RoleConn{}, nil, `host "web1": opsmop_host: want a string, got an integer`},
		{"password not a string", map[string]any{"opsmop_ssh_password": int64(1234)}, RoleConn{}, nil, `host "web1": opsmop_ssh_password: want a string, got an integer`},
		{"bad check_host_keys", map[string]any{"opsmop_ssh_check_host_keys": "maybe"}, RoleConn{}, nil, `host "web1": opsmop_ssh_check_host_keys: "maybe": want true, false or accept-new`},
		{"check_host_keys a number", map[string]any{"opsmop_ssh_check_host_keys": int64(1)}, RoleConn{}, nil, `host "web1": opsmop_ssh_check_host_keys: want true, false or accept-new, got an integer`},
		{"bad connection", map[string]any{"opsmop_connection": "telnet"}, RoleConn{}, nil, `host "web1": opsmop_connection: "telnet": want ssh or local`},
		{"bad identity file", map[string]any{"opsmop_identity_file": []any{"a", int64(2)}}, RoleConn{}, nil, `host "web1": opsmop_identity_file: want a string or a list of strings, got a list holding an integer`},
		{"bad role check_host_keys", nil, RoleConn{CheckHostKeys: "sometimes"}, nil, `host "web1": role check_host_keys: "sometimes": want true, false or accept-new`},
		{"keepalive not a number", map[string]any{"opsmop_ssh_keepalive": "soon"}, RoleConn{}, nil, `host "web1": opsmop_ssh_keepalive: "soon" is not a number of seconds`},
		{"keepalive zero", map[string]any{"opsmop_ssh_keepalive": int64(0)}, RoleConn{}, nil, `host "web1": opsmop_ssh_keepalive: want at least 1 second, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(&Host{Name: "web1", Vars: tt.vars}, tt.role, tt.d)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestResolveFromInventoryFile(t *testing.T) {
	inv, err := LoadTOML("testdata/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"web1":    "deploy@10.0.0.5:22 ssh",
		"web2":    "me@2001:db8::2:2222 ssh",
		"db1":     "me@db1:22 ssh",
		"bastion": "me@bastion:22 local",
	}
	for _, h := range inv.Hosts() {
		s, err := Resolve(h, RoleConn{}, &Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Replace(s.User, currentUser(), "me", 1) + "@" + s.Address + ":" + strconv.Itoa(s.Port) + " " + s.Connection
		if got != want[h.Name] {
			t.Errorf("%s: %s, want %s", h.Name, got, want[h.Name])
		}
	}
}

func TestResolveIdentityFileHome(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	s, err := Resolve(&Host{Name: "h", Vars: map[string]any{"opsmop_identity_file": []any{"~/.ssh/a", "/b"}}}, RoleConn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join("/home/tester", ".ssh/a"), "/b"}; !reflect.DeepEqual(s.IdentityFiles, want) {
		t.Errorf("identity files %v, want %v", s.IdentityFiles, want)
	}
}

func TestConnSettingsKey(t *testing.T) {
	h := &Host{Name: "h"}
	a, _ := Resolve(h, RoleConn{}, nil)
	b, _ := Resolve(h, RoleConn{}, nil)
	if a.Key() != b.Key() {
		t.Errorf("same settings, different keys")
	}
	for name, role := range map[string]RoleConn{
		"sudo":          {Sudo: bp(true)},
		"password":      {SSHAs: &Credential{Password: sp("")}},
		"sudo password": {SudoAs: &Credential{Password: sp("x")}},
		"user":          {SSHAs: &Credential{User: "other"}},
	} {
		c, _ := Resolve(h, role, nil)
		if c.Key() == a.Key() {
			t.Errorf("%s: different settings, same key", name)
		}
	}
}

// TestResolveWorkedExample is the worked example of docs/inventory.md.
func TestResolveWorkedExample(t *testing.T) {
	inv, err := LoadTOML("testdata/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	web, err := inv.Filter([]string{"webservers"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDefaults("/home/u/.opsmop/defaults.toml", "[ssh]\nusername = \"ops\"\ncheck_host_keys = \"accept-new\"\n[sudo]\npassword = \"s3cret\"\n")
	if err != nil {
		t.Fatal(err)
	}
	role := RoleConn{SSHAs: &Credential{}, Sudo: bp(true), SudoAs: &Credential{User: "www-admin"}}
	const df = "/home/u/.opsmop/defaults.toml"
	want := map[string]ConnSettings{
		"web1": {Name: "web1", Address: "10.0.0.5", Port: 22, User: "deploy", Sudo: true, SudoUser: "www-admin",
			SudoPassword: sp("s3cret"), CheckHostKeys: "accept-new", Connection: "ssh", Sources: map[string]string{"keepalive": "default",
				"address": "inventory opsmop_host", "port": "default", "user": "inventory opsmop_ssh_username",
				"password": "default", "sudo": "role", "sudo_user": "role", "sudo_password": df,
				"check_host_keys": df, "identity_files": "default", "connection": "default"}},
		"web2": {Name: "web2", Address: "2001:db8::2", Port: 2222, User: "ops", Sudo: true, SudoUser: "www-admin",
			SudoPassword: sp("s3cret"), CheckHostKeys: "accept-new", Connection: "ssh", Sources: map[string]string{"keepalive": "default",
				"address": "inventory opsmop_host", "port": "inventory opsmop_host", "user": df,
				"password": "default", "sudo": "role", "sudo_user": "role", "sudo_password": df,
				"check_host_keys": df, "identity_files": "default", "connection": "default"}},
	}
	if len(web.Hosts()) != 2 {
		t.Fatalf("filter gave %v", names(web))
	}
	for _, h := range web.Hosts() {
		got, err := Resolve(h, role, d)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want[h.Name]) {
			t.Errorf("%s:\n got %+v\nwant %+v", h.Name, got, want[h.Name])
		}
	}
}

func TestResolveKeepalive(t *testing.T) {
	for _, v := range []any{int64(5), "5"} {
		s, err := Resolve(&Host{Name: "web1", Vars: map[string]any{"opsmop_ssh_keepalive": v}}, RoleConn{}, nil)
		if err != nil || s.Keepalive != 5*time.Second || s.Sources["keepalive"] != "inventory opsmop_ssh_keepalive" {
			t.Errorf("opsmop_ssh_keepalive=%v: %v, %v, %q", v, s.Keepalive, err, s.Sources["keepalive"])
		}
	}
}
