package worker

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestRunLineLengths checks that output lines of every length arrive whole,
// in the result and in the streamed lines: the scanner starts with a small
// buffer and must grow it for long lines.
func TestRunLineLengths(t *testing.T) {
	tests := []struct {
		name string
		n    int // bytes in the line, without its newline
	}{
		{"empty", 0},
		{"short", 10},
		{"just under the first buffer", 4<<10 - 1},
		{"beyond the first buffer", 4<<10 + 1},
		{"beyond 64 KiB", 100 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			env := &Env{Emit: func(stream, line string) {
				if stream == "stdout" {
					lines = append(lines, line)
				}
			}}
			// head -c prints exactly n bytes; echo ends the line.
			res, err := Run(context.Background(), env, Command{Argv: []string{"sh", "-c",
				"head -c " + strconv.Itoa(tt.n) + " /dev/zero | tr '\\0' x; echo; echo end"}})
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Repeat("x", tt.n)
			if res.Stdout != want+"\nend\n" {
				t.Errorf("stdout holds %d bytes, want %d", len(res.Stdout), tt.n+5)
			}
			if len(lines) != 2 || lines[0] != want || lines[1] != "end" {
				t.Errorf("streamed %d lines, want the %d-byte line and \"end\"", len(lines), tt.n)
			}
		})
	}
}

func TestCommandsDoNotInheritBootEnv(t *testing.T) {
	show := "echo ${GOMAXPROCS-unset} ${LC_ALL-unset}"
	tests := []struct {
		name  string
		lcAll string // the worker's LC_ALL at start
		own   bool   // a command of the worker's own (query), or a user's
		want  string
	}{
		{"a user's command, after the transport's LC_ALL=C", "C", false, "unset unset"},
		{"the worker's own command", "C", true, "unset C"},
		{"a user's command, LC_ALL the host set", "de_DE.UTF-8", false, "unset de_DE.UTF-8"},
		{"the worker's own command, LC_ALL the host set", "de_DE.UTF-8", true, "unset C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", "1") // what the boot script starts the worker with
			t.Setenv("LC_ALL", tt.lcAll)
			forgetBootEnv()
			var res CmdResult
			var err error
			if tt.own {
				res, err = query(context.Background(), &Env{}, "sh", "-c", show)
			} else {
				res, err = Run(context.Background(), &Env{}, Command{Argv: []string{"sh", "-c", show}, Quiet: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(res.Stdout); got != tt.want {
				t.Errorf("GOMAXPROCS, LC_ALL = %q, want %q", got, tt.want)
			}
		})
	}
}
