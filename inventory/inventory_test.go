package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadTOML(t *testing.T) {
	inv, err := LoadTOML("testdata/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range inv.Hosts() {
		names = append(names, h.Name)
	}
	if want := []string{"web1", "web2", "db1", "bastion"}; !reflect.DeepEqual(names, want) {
		t.Errorf("hosts = %v, want %v (file order)", names, want)
	}
	if want := []string{"webservers", "dbservers"}; !reflect.DeepEqual(inv.Groups(), want) {
		t.Errorf("groups = %v, want %v", inv.Groups(), want)
	}
	want := map[string]*Host{
		"web1": {Name: "web1", Groups: []string{"webservers"}, Vars: map[string]any{
			"ntp_server": "ntp.example.com", "tier": "front", "port": int64(8081),
			"packages": []any{"nginx", "curl"}, "opsmop_host": "10.0.0.5", "opsmop_ssh_username": "deploy",
		}},
		// In two groups: dbservers comes later in the file, so its vars
		// win over webservers'; the host's k=v strings win over both.
		"web2": {Name: "web2", Groups: []string{"webservers", "dbservers"}, Vars: map[string]any{
			"ntp_server": "ntp.example.com", "tier": "db", "port": int64(5432),
			"packages": []any{"nginx", "curl"}, "backup": map[string]any{"hour": int64(3), "enabled": true},
			"opsmop_host": "[2001:db8::2]:2222", "motd": "hello world", "role": "replica",
		}},
		"db1": {Name: "db1", Groups: []string{"dbservers"}, Vars: map[string]any{
			"ntp_server": "ntp.example.com", "tier": "db", "port": int64(5432),
			"backup": map[string]any{"hour": int64(3), "enabled": true},
		}},
		"bastion": {Name: "bastion", Groups: []string{}, Vars: map[string]any{
			"ntp_server": "ntp.example.com", "tier": "none", "opsmop_connection": "local",
		}},
	}
	for _, h := range inv.Hosts() {
		if !reflect.DeepEqual(h, want[h.Name]) {
			t.Errorf("host %s:\n got %#v\nwant %#v", h.Name, h, want[h.Name])
		}
	}
}

func TestLoadTOMLHostsDoNotShareValues(t *testing.T) {
	inv, err := LoadTOML("testdata/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	hosts := inv.Hosts()
	hosts[1].Vars["packages"].([]any)[0] = "changed"
	if got := hosts[0].Vars["packages"].([]any)[0]; got != "nginx" {
		t.Errorf("changing web2's packages changed web1's to %v", got)
	}
}

func TestLoadTOMLErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		line            int
	}{
		{
			name: "bad k=v",
			src:  "[groups.web.hosts]\nweb0 = \"\"\n\n# comment\n\n\nweb1 = \"port8080\"\n",
			want: `inventory.toml:7: host "web1": bad variable "port8080": want k=v`, line: 7,
		},
		{
			name: "bad variable name",
			src:  "[groups.web.hosts]\nweb1 = \"1x=2\"\n",
			want: `inventory.toml:2: host "web1": bad variable "1x=2": name "1x" must be letters, digits and _, not starting with a digit`, line: 2,
		},
		{
			name: "unterminated quote",
			src:  "[groups.web.hosts]\nweb1 = \"a='b\"\n",
			want: `inventory.toml:2: host "web1": unterminated ' quote at column 3 of "a='b"`, line: 2,
		},
		{
			name: "TOML syntax",
			src:  "[groups.web.hosts]\nweb1 = \"a=1\"\nweb2 = \n",
			want: `inventory.toml:3: expected value but found '\n' instead`, line: 3,
		},
		{
			name: "duplicate key",
			src:  "[groups.web.hosts]\nweb1 = \"\"\nweb1 = \"\"\n",
			want: `inventory.toml:3: Key 'groups.web.hosts.web1' has already been defined.`, line: 3,
		},
		{
			name: "unknown section",
			src:  "[groups.web.hosts]\nweb1 = \"\"\n\n[host.web1.vars]\nx = 1\n",
			want: `inventory.toml:4: unknown section "host" (want groups or hosts)`, line: 4,
		},
		{
			name: "unknown top-level key",
			src:  "# inventory\nversion = 2\n",
			want: `inventory.toml:2: unknown section "version" (want groups or hosts)`, line: 2,
		},
		{
			name: "groups not a table",
			src:  "\ngroups = [\"web\"]\n",
			want: `inventory.toml:2: groups: want a table, got an array`, line: 2,
		},
		{
			name: "group not a table",
			src:  "[groups]\nweb = \"web1\"\n",
			want: `inventory.toml:2: group "web": want a table, got a string`, line: 2,
		},
		{
			name: "group unknown key",
			src:  "[groups.web.hosts]\nweb1 = \"\"\n[groups.web.host]\nweb2 = \"\"\n",
			want: `inventory.toml:3: group "web": unknown key "host" (want hosts or vars)`, line: 3,
		},
		{
			name: "group hosts not a table",
			src:  "[groups.web]\nvars = {}\nhosts = [\"web1\"]\n",
			want: `inventory.toml:3: groups.web.hosts: want a table, got an array`, line: 3,
		},
		{
			name: "group vars not a table",
			src:  "[groups.web]\nvars = 3\n",
			want: `inventory.toml:2: groups.web.vars: want a table, got an integer`, line: 2,
		},
		{
			name: "host value not a string",
			src:  "[groups.web.hosts]\nweb1 = \"\"\nweb2 = { port = 1 }\n",
			want: `inventory.toml:3: host "web2": want a "k=v ..." string, got a table`, line: 3,
		},
		{
			name: "host in inline table",
			src:  "[groups.web]\nhosts = { web1 = \"\", web2 = \"x\" }\n",
			want: `inventory.toml:2: host "web2": bad variable "x": want k=v`, line: 2,
		},
		{
			name: "empty host name",
			src:  "[groups.web.hosts]\n\"\" = \"\"\n",
			want: `inventory.toml:2: host "": empty name`, line: 2,
		},
		{
			name: "host name with a space",
			src:  "[groups.web.hosts]\n\"web 1\" = \"\"\n",
			want: `inventory.toml:2: host "web 1": name must not contain spaces or control characters`, line: 2,
		},
		{
			name: "quoted dotted host name",
			src:  "[groups.web.hosts]\n'web1.example.com' = \"\"\n\"web2.example.com\" = \"port\"\n",
			want: `inventory.toml:3: host "web2.example.com": bad variable "port": want k=v`, line: 3,
		},
		{
			name: "line after multi-line strings and arrays",
			src: "[groups.web.vars]\nmotd = \"\"\"\nline [one]\nx = 1\n\"\"\"\nlist = [\n  1, # [\n  2,\n]\n" +
				"lit = '''\n[groups.web.hosts]\n'''\n[groups.web.hosts]\nweb1 = \"nope\"\n",
			want: `inventory.toml:14: host "web1": bad variable "nope": want k=v`, line: 14,
		},
		{
			name: "byte order mark and CRLF",
			src:  "\ufeff[groups.web.hosts]\r\n\r\nweb1 = \"x\"\r\n",
			want: `inventory.toml:3: host "web1": bad variable "x": want k=v`, line: 3,
		},
		{
			name: "hosts section unknown key",
			src:  "[hosts.web1]\nport = 22\n",
			want: `inventory.toml:2: host "web1": unknown key "port" (want vars)`, line: 2,
		},
		{
			name: "hosts vars not a table",
			src:  "[hosts.web1]\n\nvars = \"port=22\"\n",
			want: `inventory.toml:3: hosts.web1.vars: want a table, got a string`, line: 3,
		},
		{
			name: "hosts entry not a table",
			src:  "[hosts]\nweb1 = \"port=22\"\n",
			want: `inventory.toml:2: host "web1": want a table, got a string`, line: 2,
		},
		{
			name: "array of tables",
			src:  "[[groups]]\nname = \"web\"\n",
			want: `inventory.toml:1: groups: want a table, got an array`, line: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "inventory.toml")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTOML(path)
			if err == nil {
				t.Fatalf("LoadTOML succeeded, want error %q", tt.want)
			}
			if got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != tt.line || fe.File != path {
				t.Errorf("error %#v: want a *FileError for %s line %d", err, path, tt.line)
			}
		})
	}
}

func TestLoadTOMLMissingFile(t *testing.T) {
	_, err := LoadTOML(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("error = %v, want a not-exist error naming the file", err)
	}
}

func TestLoadTOMLEmpty(t *testing.T) {
	inv, err := parseTOML("empty.toml", "# nothing yet\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hosts()) != 0 || len(inv.Groups()) != 0 {
		t.Errorf("empty file gave hosts %v, groups %v", inv.Hosts(), inv.Groups())
	}
}

func TestScanKeyLines(t *testing.T) {
	src := "a = 1\n[b . \"c.d\"]\ne.'f' = \"\"\"\n\n\"\"\"\n[[g]]\nh = [\n{ i = 1 },\n]\nj = 'x' # [k]\n"
	kl := scanKeyLines(src)
	for _, tt := range []struct {
		path []string
		line int
	}{
		{[]string{"a"}, 1},
		{[]string{"b"}, 2},
		{[]string{"b", "c.d"}, 2},
		{[]string{"b", "c.d", "e", "f"}, 3},
		{[]string{"g"}, 6},
		{[]string{"g", "h"}, 7},
		{[]string{"g", "h", "i"}, 7}, // inside an inline table: the enclosing key
		{[]string{"g", "j"}, 10},
		{[]string{"k"}, 0},
	} {
		if got := kl.lineOf(tt.path...); got != tt.line {
			t.Errorf("lineOf(%q) = %d, want %d", tt.path, got, tt.line)
		}
	}
}
