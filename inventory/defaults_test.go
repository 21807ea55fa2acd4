package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDefaultsFrom(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "defaults.toml")
	writeFile(t, path, `
[ssh]
username = "mpdehaan"
password = "1234"
check_host_keys = "ignore"   # OpsMop's spelling of false
identity_files = ["~/.ssh/deploy", "/etc/keys/ci"]

[sudo]
username = "admin"
password = "letmein1234"
enabled = true
`)
	d, err := LoadDefaultsFrom(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Defaults{Path: path}
	want.SSH.Username, want.SSH.Password, want.SSH.CheckHostKeys = "mpdehaan", "1234", "false"
	want.SSH.IdentityFiles = []string{"~/.ssh/deploy", "/etc/keys/ci"}
	want.Sudo.Username, want.Sudo.Password, want.Sudo.Enabled = "admin", "letmein1234", bp(true)
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %+v\nwant %+v", d, want)
	}
}

func TestLoadDefaultsFromOrder(t *testing.T) {
	dir := t.TempDir()
	first, second, missing := filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml"), filepath.Join(dir, "none.toml")
	writeFile(t, first, "[ssh]\nusername = \"first\"\n")
	writeFile(t, second, "[ssh]\nusername = \"second\"\n")
	tests := []struct {
		name  string
		paths []string
		user  string
		path  string
	}{
		{"first wins", []string{first, second}, "first", first},
		{"missing skipped", []string{missing, second}, "second", second},
		{"none", []string{missing}, "", ""},
		{"no paths", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := LoadDefaultsFrom(tt.paths...)
			if err != nil {
				t.Fatal(err)
			}
			if d.SSH.Username != tt.user || d.Path != tt.path {
				t.Errorf("user %q from %q, want %q from %q", d.SSH.Username, d.Path, tt.user, tt.path)
			}
		})
	}
}

// A defaults file that exists but cannot be read stops the run rather than
// falling through to the system file.
func TestLoadDefaultsUnreadable(t *testing.T) {
	dir := t.TempDir()
	asDir := filepath.Join(dir, "defaults.toml")
	if err := os.Mkdir(asDir, 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.toml")
	writeFile(t, other, "")
	if _, err := LoadDefaultsFrom(asDir, other); err == nil || !strings.Contains(err.Error(), asDir) {
		t.Errorf("error = %v, want one naming %s", err, asDir)
	}
}

func TestLoadDefaultsHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if got, want := defaultsPaths(), []string{filepath.Join(home, ".opsmop", "defaults.toml"), "/etc/opsmop/defaults.toml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lookup order %v, want %v", got, want)
	}
	path := filepath.Join(home, ".opsmop", "defaults.toml")
	writeFile(t, path, "[ssh]\nusername = \"from-home\"\n")
	d, err := LoadDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if d.SSH.Username != "from-home" || d.Path != path {
		t.Errorf("LoadDefaults read %q from %q, want from-home from %s", d.SSH.Username, d.Path, path)
	}
}

func TestLoadDefaultsErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		line            int
	}{
		{"syntax", "[ssh]\nusername = mpdehaan\n", `defaults.toml:2: expected value but found "mpdehaan" instead`, 2},
		{"unknown section", "[ssh]\nusername = \"u\"\n[become]\nuser = \"root\"\n", `defaults.toml:3: unknown section "become" (want ssh or sudo)`, 3},
		{"unknown key", "[ssh]\nusername = \"u\"\nuser = \"u\"\n", `defaults.toml:3: [ssh]: unknown key "user"`, 3},
		{"username not a string", "[sudo]\n\nusername = 0\n", `defaults.toml:3: [sudo] username: want a string, got an integer`, 3},
		{"bad check_host_keys", "[ssh]\ncheck_host_keys = \"sometimes\"\n", `defaults.toml:2: [ssh] check_host_keys: "sometimes": want true, false or accept-new`, 2},
		{"enabled not a bool", "[sudo]\nenabled = \"yes\"\n", `defaults.toml:2: [sudo] enabled: want true or false, got a string`, 2},
		{"identity_files not a list", "[ssh]\nidentity_files = \"~/.ssh/id\"\n", `defaults.toml:2: [ssh] identity_files: want a list of strings, got a string`, 2},
		{"identity_files holding a number", "[ssh]\nidentity_files = [\n\"a\",\n1]\n", `defaults.toml:2: [ssh] identity_files: want a list of strings, got a list holding an integer`, 2},
		{"ssh not a table", "ssh = \"u\"\n", `defaults.toml:1: ssh: want a table, got a string`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "defaults.toml")
			writeFile(t, path, tt.src)
			_, err := LoadDefaultsFrom(path)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != tt.line {
				t.Errorf("error %#v: want a *FileError at line %d", err, tt.line)
			}
		})
	}
}
