package controller

import (
	"context"
	"fmt"

	"github.com/opsmop/opsmop/policy"
	"github.com/opsmop/opsmop/protocol"
)

// resolve renders a resource's templates with the host's variables and
// turns file sources into content, so the worker gets plain values only.
// Templates render here, on the controller, because this is where a host's
// inventory, policy and role variables, its facts and registered results all
// meet; the worker needs no template engine and never sees the policy.
func (x *executor) resolve(res *policy.Resource, idx int, vars *policy.Scope) (protocol.Resource, error) {
	v, err := vars.Resolve(res.Params)
	if err != nil {
		return protocol.Resource{}, fmt.Errorf("%s: %s %q: %w", res.Pos, res.Type, res.Name, err)
	}
	params, _ := v.(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	if res.Type == "file" {
		if err := x.fileContent(res, params, vars); err != nil {
			return protocol.Resource{}, err
		}
	}
	return protocol.Resource{ID: idx, Type: res.Type, Name: res.Name, Params: params, IgnoreErrors: res.IgnoreErrors}, nil
}

// fileContent replaces from_file, from_template and from_content with the
// content itself, inline or by reference.
func (x *executor) fileContent(res *policy.Resource, params map[string]any, vars *policy.Scope) error {
	data, found, err := x.fileSource(res, params, vars)
	if err != nil || !found {
		return err
	}
	var key string
	var val any
	if rel, ok := params["from_file"].(string); ok {
		key, val = x.h.r.content.addFile(rel, data)
	} else {
		key, val = x.h.r.content.add(data)
	}
	for _, k := range []string{"from_file", "from_template", "from_content"} {
		delete(params, k)
	}
	params[key] = val
	return nil
}

func (x *executor) fileSource(res *policy.Resource, params map[string]any, vars *policy.Scope) ([]byte, bool, error) {
	if rel, ok := params["from_file"].(string); ok {
		data, err := x.h.r.readFile(rel)
		if err != nil {
			return nil, false, fmt.Errorf("%s: file %q: from_file: %w", res.Pos, res.Name, err)
		}
		return data, true, nil
	}
	if rel, ok := params["from_template"].(string); ok {
		src, err := x.h.r.readFile(rel)
		if err != nil {
			return nil, false, fmt.Errorf("%s: file %q: from_template: %w", res.Pos, res.Name, err)
		}
		out, err := vars.Render(rel, string(src))
		if err != nil {
			return nil, false, fmt.Errorf("%s: file %q: %w", res.Pos, res.Name, err)
		}
		return []byte(out), true, nil
	}
	if c, ok := params["from_content"]; ok && c != nil {
		return []byte(fmt.Sprint(c)), true, nil
	}
	return nil, false, nil
}

// runHandlers runs, in definition order, the handlers that a changed
// resource signalled. Check mode reports them as "would run".
func (x *executor) runHandlers(ctx context.Context) bool {
	for _, hd := range x.exp.Handlers {
		if !x.notified[hd.Name] {
			continue
		}
		status := "running"
		if x.h.r.opts.Check {
			status = "would run"
		}
		x.h.r.report(Event{Kind: EvHandler, Host: x.h.inv.Name, Role: x.role.Name, Resource: hd.Name, Status: status, Check: x.h.r.opts.Check})
		if x.h.r.opts.Check {
			continue
		}
		if !x.runList(ctx, hd.Resources) {
			return false
		}
	}
	return true
}
