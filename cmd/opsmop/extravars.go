package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/opsmop/opsmop/inventory"
)

// parseExtraVars merges --extra-vars values in order: "k=v k2='a b'"
// (values are strings) or @file.json / @file.toml (typed values).
func parseExtraVars(args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range args {
		m, err := parseExtraVar(a)
		if err != nil {
			return nil, usagef("--extra-vars %s: %s", a, err)
		}
		maps.Copy(out, m)
	}
	return out, nil
}

func parseExtraVar(a string) (map[string]any, error) {
	if path, ok := strings.CutPrefix(a, "@"); ok {
		return readVarsFile(path)
	}
	kv, err := inventory.ParseKV(a)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(kv))
	for k, v := range kv {
		out[k] = v
	}
	return out, nil
}

func readVarsFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read vars file: %w", err)
	}
	out := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		err = jsonWithLine(data, json.Unmarshal(data, &out))
	case ".toml":
		_, err = toml.Decode(string(data), &out)
	default:
		return nil, fmt.Errorf("vars file %s: want a .json or .toml file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return normalizeNumbers(out).(map[string]any), nil
}

// normalizeNumbers makes JSON numbers int64 where they are whole, as the
// policy language's integers are.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
	}
	return v
}

// jsonWithLine adds the line to a JSON syntax error, which only knows its
// byte offset.
func jsonWithLine(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}
