package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"serve"}, `unknown command "serve"`},
		{"unknown flag", []string{"worker", "--sha"}, "flag provided but not defined: -sha"},
		{"stray argument", []string{"facts", "now"}, `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errOut.String(), tc.want) || !strings.Contains(errOut.String(), "usage:") {
				t.Errorf("stderr %q, want %q and the usage", errOut.String(), tc.want)
			}
		})
	}
}

func TestRunFacts(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"facts"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var facts map[string]any
	if err := json.Unmarshal(out.Bytes(), &facts); err != nil {
		t.Fatalf("facts are not JSON: %v\n%s", err, out.String())
	}
	if facts["os"] != "linux" || facts["hostname"] == "" {
		t.Errorf("facts lack os=linux and a hostname: %v", facts)
	}
}
