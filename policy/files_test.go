package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pol")
	for _, d := range []string{"pol/files", "pol/.git", "outside"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string) {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pol/policy.star", "policy = Policy()\n")
	write("pol/files/motd", "hello\n")
	write("pol/.git/config", "secret")
	write("pol/notes.txt~", "backup")
	write("outside/secret", "secret")
	for _, l := range [][2]string{
		{"../outside/secret", "pol/escape"},
		{"files/motd", "pol/goodlink"},
		{".git/config", "pol/gitlink"},
		{"policy.star", "pol/selflink"},
	} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	p := mustLoad(t, filepath.Join(dir, "policy.star"))

	for _, tc := range []struct {
		name, rel, want, refused, err string
	}{
		{"relative", "files/motd", "hello\n", "", ""},
		{"absolute inside", filepath.Join(dir, "files/motd"), "hello\n", "", ""},
		{"symlink inside", "goodlink", "hello\n", "", ""},
		{"dot dot inside", "files/../files/motd", "hello\n", "", ""},
		{"escape with dot dot", "../outside/secret", "", "it is outside the policy folder " + dir, ""},
		{"absolute outside", filepath.Join(root, "outside/secret"), "", "it is outside the policy folder " + dir, ""},
		{"etc passwd", "/etc/passwd", "", "it is outside the policy folder " + dir, ""},
		{"escape with symlink", "escape", "", "it is outside the policy folder " + dir, ""},
		{"git", ".git/config", "", "files under .git are never served", ""},
		{"git via symlink", "gitlink", "", "files under .git are never served", ""},
		{"policy itself", "policy.star", "", "it is the policy file itself", ""},
		{"policy via symlink", "selflink", "", "it is the policy file itself", ""},
		{"editor backup", "notes.txt~", "", "it looks like an editor backup", ""},
		{"folder itself", ".", "", "it is the policy folder itself", ""},
		{"missing", "files/nope", "", "", `read "files/nope": no such file (looked for ` + filepath.Join(dir, "files/nope") + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := p.ReadFile(tc.rel)
			switch {
			case tc.refused != "":
				var se *ServeError
				if !errors.As(err, &se) || se.Reason != tc.refused || se.Path != tc.rel {
					t.Fatalf("err = %#v (%v), want refusal %q", err, err, tc.refused)
				}
				if !strings.HasPrefix(err.Error(), "refusing to read ") {
					t.Errorf("message %q", err)
				}
			case tc.err != "":
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
			default:
				if err != nil || string(data) != tc.want {
					t.Fatalf("ReadFile = %q, %v; want %q", data, err, tc.want)
				}
			}
		})
	}
}
