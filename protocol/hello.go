package protocol

import (
	"context"
	"fmt"
)

// MismatchError means the two sides cannot talk: different protocol versions
// or, where both are given, different builds.
type MismatchError struct {
	Local, Remote Hello
}

func (e *MismatchError) Error() string {
	if e.Local.Version != e.Remote.Version {
		return fmt.Sprintf("worker speaks protocol version %d, controller speaks %d", e.Remote.Version, e.Local.Version)
	}
	return fmt.Sprintf("worker build %s does not match controller build %s", short(e.Remote.BuildHash), short(e.Local.BuildHash))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Handshake is the controller's side of the hello call.
func (s *Session) Handshake(ctx context.Context, local Hello) (Hello, error) {
	var remote Hello
	if err := s.Call(ctx, MethodHello, local, &remote); err != nil {
		return remote, fmt.Errorf("handshake: %w", err)
	}
	if err := compatible(local, remote); err != nil {
		return remote, err
	}
	return remote, nil
}

// AnswerHello is the worker's side of the hello call.
func AnswerHello(in *Incoming, local Hello) (Hello, error) {
	var remote Hello
	if err := in.Decode(&remote); err != nil {
		in.Reply(nil, err)
		return remote, err
	}
	if err := compatible(remote, local); err != nil {
		in.Reply(nil, err)
		return remote, err
	}
	return remote, in.Reply(local, nil)
}

func compatible(controller, worker Hello) error {
	if controller.Version != worker.Version {
		return &MismatchError{Local: controller, Remote: worker}
	}
	if controller.BuildHash != "" && worker.BuildHash != "" && controller.BuildHash != worker.BuildHash {
		return &MismatchError{Local: controller, Remote: worker}
	}
	return nil
}

// Announce is the worker's side of the start of a session: it sends a and
// closes the stream, waiting for nothing.
func (s *Session) Announce(ctx context.Context, a Announce) error {
	st, err := s.Open(ctx, MethodAnnounce, a)
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	return st.Close()
}

// Check is the controller's side of an announce: the worker must speak our
// protocol version and, where both builds are known, be our build.
func (a Announce) Check(controller Hello) error { return compatible(controller, a.Hello) }
