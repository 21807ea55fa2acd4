package worker

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opsmop/opsmop/protocol"
)

func TestShell(t *testing.T) {
	dir := t.TempDir()
	there := filepath.Join(dir, "there")
	existingFile("", 0o644)(t, there)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name       string
		cmd        string
		params     map[string]any
		wantPlan   []string
		wantStatus string
		wantRC     int
		wantStdout string
		wantMsg    string
	}{
		{"runs", "echo hi; echo err >&2", nil, []string{"run"}, protocol.StatusChanged, 0, "hi\n", ""},
		{"non-zero exit fails", "exit 3", nil, []string{"run"}, protocol.StatusFailed, 3, "", "command exited with status 3"},
		{"creates exists", "echo no", map[string]any{"creates": there}, nil, protocol.StatusOK, 0, "", ""},
		{"creates missing", "echo yes", map[string]any{"creates": missing}, []string{"run"}, protocol.StatusChanged, 0, "yes\n", ""},
		{"removes missing", "echo no", map[string]any{"removes": missing}, nil, protocol.StatusOK, 0, "", ""},
		{"removes exists", "echo yes", map[string]any{"removes": there}, []string{"run"}, protocol.StatusChanged, 0, "yes\n", ""},
		{"chdir", "pwd", map[string]any{"chdir": dir}, []string{"run"}, protocol.StatusChanged, 0, dir + "\n", ""},
		{"environment", `echo "$GREETING $N"`, map[string]any{"environment": map[string]any{"GREETING": "hello", "N": int64(2)}}, []string{"run"}, protocol.StatusChanged, 0, "hello 2\n", ""},
		{"timeout", "sleep 100", map[string]any{"timeout": int64(1)}, []string{"run"}, protocol.StatusFailed, -1, "", "timed out after 1s"},
		{"missing chdir", "true", map[string]any{"chdir": missing}, []string{"run"}, protocol.StatusFailed, 127, "", "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var emitted []string
			env := &Env{Emit: func(stream, line string) {
				mu.Lock()
				emitted = append(emitted, stream+":"+line)
				mu.Unlock()
			}}
			_, res := converge(t, env, build(t, "shell", tt.cmd, tt.params))
			if !slices.Equal(res.Actions, tt.wantPlan) || res.Status != tt.wantStatus {
				t.Fatalf("got %+v, want plan %q status %s", res, tt.wantPlan, tt.wantStatus)
			}
			if res.RC != tt.wantRC || res.Stdout != tt.wantStdout || !strings.Contains(res.Msg, tt.wantMsg) {
				t.Fatalf("got rc %d stdout %q msg %q", res.RC, res.Stdout, res.Msg)
			}
			if tt.wantPlan != nil && res.Cmd != tt.cmd {
				t.Fatalf("cmd %q", res.Cmd)
			}
			if tt.name == "runs" && !slices.Contains(emitted, "stderr:err") || tt.name == "runs" && !slices.Contains(emitted, "stdout:hi") {
				t.Fatalf("emitted %q", emitted)
			}
		})
	}
}

func TestShellCheckModeDoesNotRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	_, res := converge(t, &Env{Check: true}, build(t, "shell", "touch "+marker, nil))
	if !slices.Equal(res.Actions, []string{"run"}) || res.Status != protocol.StatusChanged || res.Cmd != "touch "+marker {
		t.Fatalf("check result %+v", res)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("check mode ran the command")
	}
}

func TestShellParamErrors(t *testing.T) {
	tests := []struct {
		name   string
		cmd    string
		params map[string]any
		want   string
	}{
		{"empty command", "", nil, "cmd must not be empty"},
		{"negative timeout", "true", map[string]any{"timeout": int64(-1)}, "must not be negative"},
		{"timeout wrong type", "true", map[string]any{"timeout": "soon"}, `"timeout" must be an integer`},
		{"environment wrong type", "true", map[string]any{"environment": []any{"A=1"}}, `"environment" must be a dict`},
		{"unknown", "true", map[string]any{"args": "x"}, `shell: unknown parameter "args"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(protocol.Resource{Type: "shell", Name: tt.cmd, Params: tt.params})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
