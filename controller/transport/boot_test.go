package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLineSplitter(t *testing.T) {
	const prompt = "[opsmop-sudo-x]:"
	tests := []struct {
		name   string
		chunks []string
		want   []string // "P" for a prompt, "L:text" for a line, "R:rest" for ready with rest
	}{
		{"lines", []string{"a\nb\n"}, []string{"L:a", "L:b"}},
		{"split line", []string{"he", "llo\n"}, []string{"L:hello"}},
		{"prompt alone", []string{prompt}, []string{"P"}},
		{"prompt in pieces", []string{"[opsmop-", "sudo-x]:"}, []string{"P"}},
		{"text then prompt", []string{"Sorry, try again.\n" + prompt}, []string{"L:Sorry, try again.", "P"}},
		{"prompt after text on a line", []string{"sudo: " + prompt}, []string{"L:sudo: ", "P"}},
		{"ready keeps worker bytes", []string{"OPSMOP-NEED x\nOPSMOP-READY\n\x00\x01yamux"}, []string{"L:OPSMOP-NEED x", "R:\x00\x01yamux"}},
		{"ready with CR on a pty", []string{"OPSMOP-READY\r\n"}, []string{"R:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &lineSplitter{prompt: []byte(prompt)}
			var got []string
			for _, c := range tt.chunks {
				for _, ev := range s.feed([]byte(c), evStdoutLine) {
					switch {
					case ev.kind == evPrompt:
						got = append(got, "P")
					case isReady(ev.line):
						got = append(got, "R:"+string(ev.rest))
					default:
						got = append(got, "L:"+ev.line)
					}
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBootMachine feeds the state machine what sudo and the script say and
// checks what the controller does, for each way a start can go.
func TestBootMachine(t *testing.T) {
	line := func(s string) event { return event{kind: evStdoutLine, line: s} }
	errline := func(s string) event { return event{kind: evStderrLine, line: s} }
	prompt := event{kind: evPrompt}
	exit := event{kind: evExit, exit: &ExitError{Status: 1}}
	tests := []struct {
		name     string
		sudo     bool
		password bool
		tty      bool
		events   []event
		actions  []actionKind // one per event until the error or the end
		reason   string       // SudoError reason expected at the end
		wantErr  error
	}{
		{name: "warm", events: []event{line(lineReady)}, actions: []actionKind{actReady}},
		{name: "cold", events: []event{line(lineNeed + " abc"), line(lineReady)}, actions: []actionKind{actSendBinary, actReady}},
		{name: "nopasswd", sudo: true, events: []event{line(lineReady)}, actions: []actionKind{actReady}},
		{name: "password right", sudo: true, password: true,
			events: []event{prompt, line(lineNeed + " abc"), line(lineReady)}, actions: []actionKind{actSendPassword, actSendBinary, actReady}},
		{name: "password wrong, second prompt", sudo: true, password: true,
			events: []event{prompt, prompt}, actions: []actionKind{actSendPassword}, reason: "wrong password"},
		{name: "password wrong, sorry", sudo: true, password: true,
			events: []event{prompt, errline("Sorry, try again.")}, actions: []actionKind{actSendPassword}, reason: "wrong password"},
		{name: "password needed, none given", sudo: true,
			events: []event{errline("sudo: a password is required")}, reason: "password required"},
		{name: "password needed, found at exit", sudo: true,
			events: []event{errline("sudo: a password is required"), exit}, reason: "password required"},
		{name: "prompt without password", sudo: true,
			events: []event{prompt}, reason: "password required"},
		{name: "not in sudoers", sudo: true,
			events: []event{errline("alice is not in the sudoers file.")}, reason: "refused"},
		{name: "requiretty", sudo: true,
			events: []event{errline("sudo: sorry, you must have a tty to run sudo")}, wantErr: errNeedTTY},
		{name: "requiretty message on a pty is not retried", sudo: true, tty: true,
			events: []event{line("sudo: sorry, you must have a tty to run sudo"), exit}, actions: []actionKind{actNone}, wantErr: &BootstrapError{}},
		{name: "script error", events: []event{line(lineErr + " cannot create /x")}, wantErr: &BootstrapError{}},
		{name: "exit before ready", events: []event{errline("sh: 1: exec: /x: Permission denied"), exit}, actions: []actionKind{actNone}, wantErr: &BootstrapError{}},
		{name: "messages without sudo are only logged", events: []event{errline("sudo: a password is required"), line(lineReady)},
			actions: []actionKind{actNone, actReady}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &bootMachine{host: "h1", sudo: sudoSpec{Enabled: tt.sudo, Password: tt.password}, hasPassword: tt.password, tty: tt.tty}
			var got []actionKind
			var err error
			for _, ev := range tt.events {
				var act action
				act, err = m.handle(ev)
				if err != nil {
					break
				}
				got = append(got, act.kind)
			}
			if len(got) != len(tt.actions) {
				t.Fatalf("actions = %v, want %v (err %v)", got, tt.actions, err)
			}
			for i := range got {
				if got[i] != tt.actions[i] {
					t.Fatalf("actions = %v, want %v", got, tt.actions)
				}
			}
			switch {
			case tt.reason != "":
				var se *SudoError
				if !errors.As(err, &se) || se.Reason != tt.reason {
					t.Fatalf("err = %v, want SudoError %q", err, tt.reason)
				}
				if se.Host != "h1" || se.User != "root" || !strings.Contains(se.Error(), tt.reason) {
					t.Errorf("error does not name host, user and reason: %v", se)
				}
			case tt.wantErr == errNeedTTY:
				if !errors.Is(err, errNeedTTY) {
					t.Fatalf("err = %v, want errNeedTTY", err)
				}
			case tt.wantErr != nil:
				var be *BootstrapError
				if !errors.As(err, &be) {
					t.Fatalf("err = %v, want *BootstrapError", err)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			}
		})
	}
}

func TestReadyLine(t *testing.T) {
	for _, tc := range []struct {
		name, line, sha string
		ok              bool
	}{
		{"local worker", "OPSMOP-READY", "", true},
		{"with hash", "OPSMOP-READY abc123", "abc123", true},
		{"pty line end", "OPSMOP-READY abc123\r", "abc123", true},
		{"other line", "OPSMOP-NEED abc zstd", "", false},
		{"prefix only", "OPSMOP-READYX", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sha, ok := readyLine(tc.line)
			if sha != tc.sha || ok != tc.ok {
				t.Errorf("readyLine(%q) = %q, %v; want %q, %v", tc.line, sha, ok, tc.sha, tc.ok)
			}
		})
	}
}

// FuzzLineSplitter feeds the host's boot output, cut anywhere in two, to
// the splitter: it must not panic, and the lines it gives (each with its
// newline), the bytes after the ready line, what it has not read yet and
// what is left at the end must be the output again, byte for byte.
func FuzzLineSplitter(f *testing.F) {
	f.Add([]byte("OPSMOP-NEED abc zstd\nOPSMOP-READY abc\n\x00\x00\x00\x0cyamux"), uint16(5))
	f.Add([]byte("sudo: a password is required\n"), uint16(0))
	f.Add([]byte("no newline at all"), uint16(3))
	f.Add([]byte("\r\n\n\nOPSMOP-READY\r\nrest"), uint16(2))
	f.Fuzz(func(t *testing.T, out []byte, cut uint16) {
		at := int(cut) % (len(out) + 1)
		chunks := [][]byte{out[:at], out[at:]}
		var s lineSplitter
		var got []byte
		ready := false
		for k, chunk := range chunks {
			for _, ev := range s.feed(chunk, evStdoutLine) {
				got = append(append(got, ev.line...), '\n')
				if isReady(ev.line) {
					// The rest of the stream is the worker's: what the
					// splitter holds back, then what it was never given.
					got = append(got, ev.rest...)
					for _, c := range chunks[k+1:] {
						got = append(got, c...)
					}
					ready = true
				}
			}
			if ready {
				break
			}
		}
		if !ready {
			for _, ev := range s.flush(evStdoutLine) {
				got = append(got, ev.line...)
			}
		}
		if !bytes.Equal(got, out) {
			t.Errorf("split at %d and joined again: %q, want %q", at, got, out)
		}
	})
}
