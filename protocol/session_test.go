package protocol

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
)

// pair connects a controller session and a worker session in memory.
func pair(t *testing.T) (client, server *Session) {
	t.Helper()
	a, b := net.Pipe()
	var err error
	if client, err = Client(a); err != nil {
		t.Fatal(err)
	}
	if server, err = Server(b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name          string
		local, remote Hello
		wantMismatch  bool
		wantMsg       string
	}{
		{"same build", Hello{Version: Version, BuildHash: "aaa"}, Hello{Version: Version, BuildHash: "aaa"}, false, ""},
		{"controller does not check build", Hello{Version: Version}, Hello{Version: Version, BuildHash: "bbb"}, false, ""},
		{"other version", Hello{Version: Version}, Hello{Version: Version + 1}, true,
			fmt.Sprintf("worker speaks protocol version %d, controller speaks %d", Version+1, Version)},
		{"other build", Hello{Version: Version, BuildHash: "aaaaaaaaaaaaaaaa"}, Hello{Version: Version, BuildHash: "bbbbbbbbbbbbbbbb"}, true,
			"worker build bbbbbbbbbbbb does not match controller build aaaaaaaaaaaa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := pair(t)
			done := make(chan error, 1)
			go func() {
				in, err := server.Accept()
				if err != nil {
					done <- err
					return
				}
				_, err = AnswerHello(in, tt.remote)
				done <- err
			}()
			got, err := client.Handshake(context.Background(), tt.local)
			werr := <-done
			if !tt.wantMismatch {
				if err != nil || werr != nil {
					t.Fatalf("handshake: %v / worker: %v", err, werr)
				}
				if got.BuildHash != tt.remote.BuildHash {
					t.Fatalf("got remote %+v", got)
				}
				return
			}
			var mm *MismatchError
			if !errors.As(werr, &mm) || werr.Error() != tt.wantMsg {
				t.Fatalf("worker error %v, want %q", werr, tt.wantMsg)
			}
			if err == nil || err.Error() != "handshake: hello: "+tt.wantMsg {
				t.Fatalf("controller error %v", err)
			}
		})
	}
}

func TestStreamingCall(t *testing.T) {
	client, server := pair(t)
	go func() {
		in, err := server.Accept()
		if err != nil {
			return
		}
		var req RunRequest
		in.Decode(&req)
		for _, r := range req.Resources {
			in.Event(Event{Kind: EventOutput, ID: r.ID, Line: r.Name})
		}
		in.Reply(struct{}{}, nil)
	}()
	st, err := client.Open(context.Background(), MethodRun, RunRequest{Resources: []Resource{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		var f Frame
		if err := st.Recv(&f); err != nil {
			t.Fatal(err)
		}
		if f.Reply != nil {
			if err := DecodeReply(MethodRun, f.Reply, nil); err != nil {
				t.Fatal(err)
			}
			break
		}
		lines = append(lines, f.Event.Line)
	}
	if len(lines) != 2 || lines[0] != "a" || lines[1] != "b" {
		t.Fatalf("events %v", lines)
	}
}

func TestRemoteError(t *testing.T) {
	client, server := pair(t)
	go func() {
		in, err := server.Accept()
		if err == nil {
			in.Reply(nil, errors.New("no such method"))
		}
	}()
	err := client.Call(context.Background(), "bogus", struct{}{}, nil)
	var re *RemoteError
	if !errors.As(err, &re) || err.Error() != "bogus: no such method" {
		t.Fatalf("got %v", err)
	}
}

func TestCallCancelledWhenSessionCloses(t *testing.T) {
	client, server := pair(t)
	go func() {
		server.Accept() // never answers
		server.Close()
	}()
	err := client.Call(context.Background(), MethodFacts, FactsRequest{}, nil)
	if err == nil || !IsClosed(errors.Unwrap(err)) {
		t.Fatalf("got %v, want a closed-session error", err)
	}
}
