package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// userFactsTimeout bounds one facts executable, so a hung script cannot hang
// every run on the host.
const userFactsTimeout = 60 * time.Second

// userFacts reads dir in name order and merges every file's top-level keys
// into one map (a later file wins a key). *.json and *.toml are read;
// executables are run and must print a JSON object. Hidden files and editor
// backups ("~" suffix) are ignored; any other file is an error, as is a file
// that does not parse, so a typo is not silently a missing fact.
func userFacts(ctx context.Context, dir string) (map[string]any, error) {
	out := map[string]any{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user facts: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, name)
		m, err := readFactsFile(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("user facts file %s: %w", path, err)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

func readFactsFile(ctx context.Context, path string) (map[string]any, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Mode().Perm()&0o111 != 0 {
		return runFactsExecutable(ctx, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch filepath.Ext(path) {
	case ".json":
		return decodeJSONFacts(data)
	case ".toml":
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("parse TOML: %w", err)
		}
		return normalizeFacts(m).(map[string]any), nil
	}
	return nil, errors.New("want a .json or .toml file, or an executable printing JSON")
}

func runFactsExecutable(ctx context.Context, path string) (map[string]any, error) {
	res, err := Run(ctx, nil, Command{Argv: []string{path}, Quiet: true, Timeout: userFactsTimeout})
	if err != nil {
		return nil, err
	}
	if res.RC != 0 {
		return nil, fmt.Errorf("exited with status %d: %s", res.RC, lastLine(res.Stderr))
	}
	m, err := decodeJSONFacts([]byte(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return m, nil
}

func decodeJSONFacts(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse JSON: more than one value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	return normalizeFacts(m).(map[string]any), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// normalizeFacts turns decoded values into the few types every consumer
// (msgpack, Starlark, templates) handles: integers as int64, other numbers
// as float64, times as RFC 3339 strings.
func normalizeFacts(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeFacts(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeFacts(e)
		}
		return x
	case []map[string]any: // TOML arrays of tables
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeFacts(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
