package transport

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// What the bootstrap sees from the host, in order.
type eventKind int

const (
	evStdoutLine eventKind = iota // a line on stdout (the script's, or sudo's on a pty)
	evStderrLine                  // a line on stderr
	evPrompt                      // our sudo prompt appeared
	evExit                        // the remote command ended before the worker was ready
)

type event struct {
	kind eventKind
	line string
	rest []byte // evStdoutLine READY: bytes read after the line
	exit error  // evExit
}

// What the bootstrap does next.
type actionKind int

const (
	actNone actionKind = iota
	actSendPassword
	actSendBinary // arg: sha256
	actSendScript // arg: the script
	actReady
)

type action struct {
	kind actionKind
	arg  string
}

// errNeedTTY means sudo wants a terminal: try again on a pty.
var errNeedTTY = errors.New("sudo requires a tty")

// SudoError means sudo refused to start the worker.
type SudoError struct {
	Host   string
	User   string // the sudo target user
	Reason string // "wrong password", "password required", "refused"
	Detail string // sudo's own words, when it said something
}

func (e *SudoError) Error() string {
	msg := fmt.Sprintf("%s: sudo to %s failed: %s", e.Host, e.User, e.Reason)
	switch e.Reason {
	case "password required":
		msg += " (sudo asks for a password: set sudo_as = (user, password), opsmop_sudo_password or --ask-become-pass)"
	case "wrong password":
		msg += " (sudo rejected the password)"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// BootstrapError means the worker could not be started for a reason other
// than sudo or the host's architecture.
type BootstrapError struct {
	Host   string
	Msg    string
	Stderr []string // the last lines the host wrote, for context
}

func (e *BootstrapError) Error() string {
	msg := e.Host + ": start worker: " + e.Msg
	if len(e.Stderr) > 0 {
		msg += ": " + strings.Join(e.Stderr, " | ")
	}
	return msg
}

// bootMachine decides, event by event, what the controller does while the
// script and sudo run. It does no I/O so it can be tested on its own.
type bootMachine struct {
	host        string
	sudo        sudoSpec
	hasPassword bool
	tty         bool // already on a pty: requiretty cannot be the cause
	start       start
	prompts     int
	tail        []string
	archErr     func(uname string) error
}

func (m *bootMachine) remember(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	m.tail = append(m.tail, line)
	if len(m.tail) > 5 {
		m.tail = m.tail[1:]
	}
}

func (m *bootMachine) sudoErr(reason, detail string) error {
	return &SudoError{Host: m.host, User: m.sudo.targetUser(), Reason: reason, Detail: detail}
}

// begin is what to do as soon as the command has been started.
func (m *bootMachine) begin() action {
	if m.start.atMarker {
		return action{}
	}
	return action{kind: actSendScript, arg: m.start.script}
}

func (m *bootMachine) handle(ev event) (action, error) {
	switch ev.kind {
	case evPrompt:
		m.prompts++
		if !m.hasPassword {
			return action{}, m.sudoErr("password required", "")
		}
		if m.prompts > 1 {
			return action{}, m.sudoErr("wrong password", "")
		}
		return action{kind: actSendPassword}, nil
	case evStdoutLine:
		line := strings.TrimRight(ev.line, "\r")
		switch {
		case isReady(line):
			sha, _ := readyLine(line)
			return action{kind: actReady, arg: sha}, nil
		case line == lineScript && m.start.atMarker:
			return action{kind: actSendScript, arg: m.start.script}, nil
		case strings.HasPrefix(line, lineNeed+" "):
			return action{kind: actSendBinary, arg: strings.TrimSpace(strings.TrimPrefix(line, lineNeed))}, nil
		case strings.HasPrefix(line, lineArch+" "):
			uname := strings.TrimSpace(strings.TrimPrefix(line, lineArch))
			if m.archErr != nil {
				return action{}, fmt.Errorf("%s: %w", m.host, m.archErr(uname))
			}
			return action{}, fmt.Errorf("%s: no worker binary for architecture %s", m.host, uname)
		case strings.HasPrefix(line, lineErr+" "):
			return action{}, &BootstrapError{Host: m.host, Msg: strings.TrimPrefix(line, lineErr+" ")}
		}
		// On a pty sudo's messages arrive on stdout.
		return m.diagnose(line)
	case evStderrLine:
		return m.diagnose(strings.TrimRight(ev.line, "\r"))
	case evExit:
		if m.sudo.Enabled {
			for _, l := range m.tail {
				if _, err := m.classify(l); err != nil {
					return action{}, err
				}
			}
		}
		msg := "remote command ended before the worker started"
		if ev.exit != nil {
			msg += " (" + ev.exit.Error() + ")"
		}
		return action{}, &BootstrapError{Host: m.host, Msg: msg, Stderr: m.tail}
	}
	return action{}, nil
}

// diagnose reads sudo's messages. LC_ALL=C makes them English; the prompt
// itself is ours, so only these follow-up messages depend on wording, and
// missing one only turns a specific error into a generic one at exit.
func (m *bootMachine) diagnose(line string) (action, error) {
	m.remember(line)
	return m.classify(line)
}

func (m *bootMachine) classify(line string) (action, error) {
	if !m.sudo.Enabled {
		return action{}, nil
	}
	l := strings.ToLower(line)
	switch {
	case strings.Contains(l, "must have a tty") || strings.Contains(l, "no tty present"):
		if !m.tty {
			return action{}, errNeedTTY
		}
	case strings.Contains(l, "a password is required"):
		return action{}, m.sudoErr("password required", line)
	case strings.Contains(l, "incorrect password"), strings.Contains(l, "sorry, try again"):
		return action{}, m.sudoErr("wrong password", line)
	case strings.Contains(l, "not in the sudoers"), strings.Contains(l, "not allowed to"), strings.Contains(l, "unknown user"):
		return action{}, m.sudoErr("refused", line)
	}
	return action{}, nil
}

// lineSplitter cuts a byte stream into lines and spots our sudo prompt,
// which sudo writes without a newline. It keeps the bytes after the ready
// line: they belong to the worker.
type lineSplitter struct {
	prompt  []byte
	pending []byte
}

// feed returns the events in chunk. When it meets the ready line it stops
// and returns the rest of the chunk in that event.
func (s *lineSplitter) feed(chunk []byte, kind eventKind) []event {
	s.pending = append(s.pending, chunk...)
	var evs []event
	for {
		if len(s.prompt) > 0 {
			if i := bytes.Index(s.pending, s.prompt); i >= 0 && bytes.IndexByte(s.pending[:i], '\n') < 0 {
				if i > 0 {
					evs = append(evs, event{kind: kind, line: string(s.pending[:i])})
				}
				evs = append(evs, event{kind: evPrompt})
				s.pending = s.pending[i+len(s.prompt):]
				continue
			}
		}
		i := bytes.IndexByte(s.pending, '\n')
		if i < 0 {
			return evs
		}
		line := string(s.pending[:i])
		s.pending = s.pending[i+1:]
		if kind == evStdoutLine && isReady(line) {
			rest := append([]byte(nil), s.pending...)
			s.pending = nil
			return append(evs, event{kind: kind, line: line, rest: rest})
		}
		evs = append(evs, event{kind: kind, line: line})
	}
}

// flush returns an unterminated last line, at end of stream.
func (s *lineSplitter) flush(kind eventKind) []event {
	if len(s.pending) == 0 {
		return nil
	}
	ev := event{kind: kind, line: string(s.pending)}
	s.pending = nil
	return []event{ev}
}

func isReady(line string) bool {
	_, ok := readyLine(line)
	return ok
}
