package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/controller"
)

func TestExitCode(t *testing.T) {
	failed := &controller.Summary{Hosts: []controller.HostSummary{{Name: "a", HostStats: controller.HostStats{Failed: 1}}}}
	unreachable := &controller.Summary{Hosts: []controller.HostSummary{{Name: "a", HostStats: controller.HostStats{Unreachable: true}}}}
	tests := []struct {
		name       string
		err        error
		want       int
		wantStderr string
	}{
		{"success", nil, exitOK, ""},
		{"usage", usagef("push: give exactly one of --check or --apply"), exitUsage, "opsmop: push: give exactly one of --check or --apply\n"},
		{"policy error", &controller.PolicyError{Err: errors.New("p.star:1:1: boom")}, exitUsage, "opsmop: p.star:1:1: boom\n"},
		{"resource failed", &failedRunError{summary: failed}, exitFailed, ""},
		{"only unreachable", &failedRunError{summary: unreachable}, exitUnreachable, ""},
		{"interrupted", fmt.Errorf("run: %w", context.Canceled), exitInterrupted, "opsmop: interrupted\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitCode(tt.err, &stderr); got != tt.want || stderr.String() != tt.wantStderr {
				t.Fatalf("exitCode = %d, stderr %q; want %d, %q", got, stderr.String(), tt.want, tt.wantStderr)
			}
		})
	}
}

func TestParseExtraVars(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	jsonFile := write("v.json", `{"port": 8080, "ratio": 0.5, "tags": ["a"], "name": "json"}`)
	tomlFile := write("v.toml", "name = \"toml\"\nport = 9090\n")
	tests := []struct {
		name    string
		args    []string
		want    string // fmt of the map
		wantErr string
	}{
		{"key values are strings", []string{"a=1 b='x y'"}, "map[a:1 b:x y]", ""},
		{"json is typed", []string{"@" + jsonFile}, "map[name:json port:8080 ratio:0.5 tags:[a]]", ""},
		{"later wins", []string{"@" + jsonFile, "@" + tomlFile, "name=cli"}, "map[name:cli port:9090 ratio:0.5 tags:[a]]", ""},
		{"bad pair", []string{"novalue"}, "", "--extra-vars novalue: "},
		{"unknown extension", []string{"@" + write("v.yaml", "a: 1")}, "", "want a .json or .toml file"},
		{"missing file", []string{"@/nonexistent.json"}, "", "read vars file"},
		{"json syntax names the line", []string{"@" + write("bad.json", "{\n  \"a\": 1,\n  oops\n}")}, "", "bad.json: line 3: invalid character 'o'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExtraVars(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestRunValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.star")
	bad := filepath.Join(dir, "bad.star")
	os.WriteFile(good, []byte(`policy = Policy(roles=[Role("r", resources=[Echo("x", signals="h")], handlers={"h": Echo("y")})])`), 0o644)
	os.WriteFile(bad, []byte(`policy = Policy(roles=[Role("r", resources=[Echo("x", signals="nope")])])`), 0o644)
	var out bytes.Buffer
	if err := runValidate(context.Background(), validateOptions{Policy: good, Out: &out}); err != nil || !strings.Contains(out.String(), "ok (1 roles)") {
		t.Fatalf("good policy: %v %q", err, out.String())
	}
	err := runValidate(context.Background(), validateOptions{Policy: bad, Out: &out})
	if err == nil || !strings.Contains(err.Error(), `signals "nope", but role "r" has no such handler`) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestPushNeedsCheckOrApply(t *testing.T) {
	for _, args := range [][]string{{"opsmop-push", "p.star"}, {"opsmop-push", "--check", "--apply", "p.star"}} {
		err := newPushApp().Run(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestExamplesValidate keeps the shipped examples valid policies.
func TestExamplesValidate(t *testing.T) {
	paths, _ := filepath.Glob("../../examples/*/*.star")
	if len(paths) < 2 {
		t.Fatalf("found %d example policies", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(filepath.Dir(p)), func(t *testing.T) {
			var out bytes.Buffer
			if err := runValidate(context.Background(), validateOptions{Policy: p, Out: &out}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
