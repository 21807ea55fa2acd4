package e2e

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opsmop/opsmop/e2e/fleet"
	"github.com/opsmop/opsmop/internal/testutil"
)

// TestPushAskBecomePass answers --ask-become-pass on a real terminal
// (script(1) gives opsmop-push one): the password reaches sudo on the host
// and never shows in the output.
func TestPushAskBecomePass(t *testing.T) {
	const pw = "s3cret-pw"
	e := newPushEnv(t, fleet.Options{Hosts: 1, SudoPassword: map[int]string{0: pw}})
	inv := strings.Replace(e.inventory(""), " opsmop_sudo_password="+pw, "", 1)
	if strings.Contains(inv, pw) {
		t.Fatalf("inventory still holds the password:\n%s", inv)
	}
	e.writePolicyFile("inv.toml", inv)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inner := e.command(ctx, "--apply", "--ask-become-pass", "simple.star")
	cmd := exec.CommandContext(ctx, "script", "-qec", shellJoin(inner.Args), "/dev/null")
	cmd.Dir, cmd.Env = inner.Dir, inner.Env
	stdin, _ := cmd.StdinPipe()
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Type only once the prompt is up: echo is off by then.
	for !strings.Contains(out.String(), "sudo password:") {
		if ctx.Err() != nil {
			t.Fatalf("no prompt; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(stdin, pw+"\n")
	err := cmd.Wait()
	text := out.String()
	if err != nil {
		t.Fatalf("opsmop-push: %v\n%s", err, text)
	}
	if strings.Contains(text, pw) {
		t.Errorf("the password shows in the output:\n%s", text)
	}
	if got := readHostFile(t, e.f.Hosts[0], "hello"); got != "hi host0\n" {
		t.Errorf("hello = %q; the apply under sudo with the asked password did not happen\n%s", got, text)
	}
}

// shellJoin quotes argv for sh -c.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
