package worker

import (
	"context"

	"github.com/opsmop/opsmop/protocol"
)

// stat reports a path's file facts (exists, is_file, is_dir, mode, owner,
// group, sha256, ...) in the result's data and never changes anything, so a
// later resource can branch on them: Stat("/etc/x", register="x") then
// when="x.data.exists".
type stat struct {
	path  string
	facts map[string]any
	err   error
}

func init() {
	Register("stat", func(name string, p Params) (Resource, error) {
		return &stat{path: name}, nil
	})
}

func (s *stat) Plan(ctx context.Context, env *Env) ([]string, error) {
	s.facts, s.err = FileFacts(s.path)
	return nil, s.err
}

func (s *stat) Apply(ctx context.Context, env *Env, plan []string) (*protocol.Result, error) {
	return &protocol.Result{}, nil
}

func (s *stat) planDetail(res *protocol.Result) { res.Data = s.facts }
