package inventory

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

// LoadTOML reads an inventory in OpsMop's TOML format:
//
//	[groups.webservers.hosts]
//	web1 = "opsmop_host=10.0.0.5 tier=front"   # k=v string vars, or ""
//	[groups.webservers.vars]
//	port = 8080                                # typed vars
//	[hosts.web1.vars]
//	port = 8081                                # host vars win
//
// Errors are *FileError values naming path and the line.
func LoadTOML(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return parseTOML(path, string(data))
}

// tomlParser turns a decoded document into an Inventory.
type tomlParser struct {
	file  string
	src   string
	md    toml.MetaData
	lines keyLines // built on the first error only

	groupVars map[string]map[string]any
	hostVars  map[string]map[string]any
	kvVars    map[string][]map[string]string // per host, in group order
	members   map[string][]string            // host → explicit groups
	hostOrder []string
}

// decodeTOML decodes src, turning a syntax error into a FileError at the
// parser's line.
func decodeTOML(file, src string) (map[string]any, toml.MetaData, error) {
	var doc map[string]any
	md, err := toml.Decode(src, &doc)
	if err == nil {
		return doc, md, nil
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return nil, md, &FileError{File: file, Line: pe.Position.Line, Err: errors.New(pe.Message)}
	}
	return nil, md, &FileError{File: file, Err: err}
}

func parseTOML(file, src string) (*Inventory, error) {
	doc, md, err := decodeTOML(file, src)
	if err != nil {
		return nil, err
	}
	p := &tomlParser{
		file: file, src: src, md: md,
		groupVars: map[string]map[string]any{},
		hostVars:  map[string]map[string]any{},
		kvVars:    map[string][]map[string]string{},
		members:   map[string][]string{},
	}
	return p.build(doc)
}

// errorf returns a FileError at the line where the key path is defined.
func (p *tomlParser) errorf(path []string, format string, args ...any) error {
	if p.lines == nil {
		p.lines = scanKeyLines(p.src)
	}
	return &FileError{File: p.file, Line: p.lines.lineOf(path...), Err: fmt.Errorf(format, args...)}
}

func (p *tomlParser) build(doc map[string]any) (*Inventory, error) {
	for _, k := range p.orderedKeys(doc) {
		if k != "groups" && k != "hosts" {
			return nil, p.errorf([]string{k}, "unknown section %q (want groups or hosts)", k)
		}
	}
	groups, err := p.table(doc, "groups")
	if err != nil {
		return nil, err
	}
	groupOrder := p.orderedKeys(groups, "groups")
	for _, g := range groupOrder {
		if err := p.group(g, groups[g]); err != nil {
			return nil, err
		}
	}
	hosts, err := p.table(doc, "hosts")
	if err != nil {
		return nil, err
	}
	for _, h := range p.orderedKeys(hosts, "hosts") {
		if err := p.hostSection(h, hosts[h]); err != nil {
			return nil, err
		}
	}
	p.sortHostsByFirstMention()

	inv := &Inventory{}
	for _, g := range groupOrder {
		if g != AllGroup {
			inv.groups = append(inv.groups, g)
		}
	}
	for _, name := range p.hostOrder {
		inv.hosts = append(inv.hosts, p.host(name, groupOrder))
	}
	// Only groups with hosts are listed, as Filter's results do.
	inv.groups = slices.DeleteFunc(inv.groups, func(g string) bool {
		return !slices.ContainsFunc(inv.hosts, func(h *Host) bool { return slices.Contains(h.Groups, g) })
	})
	return inv, nil
}

// table returns doc[key] as a table; a missing key is an empty table.
func (p *tomlParser) table(doc map[string]any, key string, path ...string) (map[string]any, error) {
	v, ok := doc[key]
	if !ok {
		return nil, nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		full := append(slices.Clone(path), key)
		return nil, p.errorf(full, "%s: want a table, got %s", strings.Join(full, "."), typeName(v))
	}
	return t, nil
}

func (p *tomlParser) group(name string, v any) error {
	path := []string{"groups", name}
	if err := checkName(name); err != nil {
		return p.errorf(path, "group %q: %v", name, err)
	}
	g, ok := v.(map[string]any)
	if !ok {
		return p.errorf(path, "group %q: want a table, got %s", name, typeName(v))
	}
	for _, k := range p.orderedKeys(g, path...) {
		if k != "hosts" && k != "vars" {
			return p.errorf(append(path, k), "group %q: unknown key %q (want hosts or vars)", name, k)
		}
	}
	vars, err := p.table(g, "vars", path...)
	if err != nil {
		return err
	}
	if vars != nil {
		p.groupVars[name] = vars
	}
	hosts, err := p.table(g, "hosts", path...)
	if err != nil {
		return err
	}
	for _, h := range p.orderedKeys(hosts, "groups", name, "hosts") {
		hpath := []string{"groups", name, "hosts", h}
		if err := checkName(h); err != nil {
			return p.errorf(hpath, "host %q: %v", h, err)
		}
		s, ok := hosts[h].(string)
		if !ok {
			return p.errorf(hpath, "host %q: want a \"k=v ...\" string, got %s", h, typeName(hosts[h]))
		}
		kv, err := ParseKV(s)
		if err != nil {
			return p.errorf(hpath, "host %q: %v", h, err)
		}
		p.addHost(h)
		if name != AllGroup && !slices.Contains(p.members[h], name) {
			p.members[h] = append(p.members[h], name)
		}
		p.kvVars[h] = append(p.kvVars[h], kv)
	}
	return nil
}

func (p *tomlParser) hostSection(name string, v any) error {
	path := []string{"hosts", name}
	if err := checkName(name); err != nil {
		return p.errorf(path, "host %q: %v", name, err)
	}
	h, ok := v.(map[string]any)
	if !ok {
		return p.errorf(path, "host %q: want a table, got %s", name, typeName(v))
	}
	for _, k := range p.orderedKeys(h, path...) {
		if k != "vars" {
			return p.errorf(append(path, k), "host %q: unknown key %q (want vars)", name, k)
		}
	}
	vars, err := p.table(h, "vars", path...)
	if err != nil {
		return err
	}
	p.hostVars[name] = vars
	p.addHost(name)
	return nil
}

func (p *tomlParser) addHost(name string) {
	if !slices.Contains(p.hostOrder, name) {
		p.hostOrder = append(p.hostOrder, name)
	}
}

// sortHostsByFirstMention orders hosts by where their name first appears
// in the file, whether under [groups.*.hosts] or [hosts.*].
func (p *tomlParser) sortHostsByFirstMention() {
	first := map[string]int{}
	for i, k := range p.md.Keys() {
		var name string
		switch {
		case len(k) >= 4 && k[0] == "groups" && k[2] == "hosts":
			name = k[3]
		case len(k) >= 2 && k[0] == "hosts":
			name = k[1]
		default:
			continue
		}
		if _, ok := first[name]; !ok {
			first[name] = i
		}
	}
	slices.SortStableFunc(p.hostOrder, func(a, b string) int {
		ia, oka := first[a]
		ib, okb := first[b]
		switch {
		case oka && okb:
			return ia - ib
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
}

// host merges a host's variables: "all" group vars, the other groups' vars
// in file order, its k=v strings, then its own vars table.
func (p *tomlParser) host(name string, groupOrder []string) *Host {
	h := &Host{Name: name, Groups: []string{}, Vars: map[string]any{}}
	maps.Copy(h.Vars, p.groupVars[AllGroup])
	for _, g := range groupOrder {
		if g != AllGroup && slices.Contains(p.members[name], g) {
			h.Groups = append(h.Groups, g)
			maps.Copy(h.Vars, p.groupVars[g])
		}
	}
	for _, kv := range p.kvVars[name] {
		for k, v := range kv {
			h.Vars[k] = v
		}
	}
	maps.Copy(h.Vars, p.hostVars[name])
	// Hosts must not share nested tables or arrays: one host's changes
	// would show up in another's.
	for k, v := range h.Vars {
		h.Vars[k] = deepCopy(v)
	}
	return h
}

// orderedKeys returns t's keys in the order they appear in the file (the
// decoder's metadata knows it); keys it cannot place come last, sorted.
func (p *tomlParser) orderedKeys(t map[string]any, path ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range p.md.Keys() {
		if len(k) <= len(path) || !slices.Equal(k[:len(path)], path) {
			continue
		}
		name := k[len(path)]
		if _, ok := t[name]; ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	rest := slices.Sorted(maps.Keys(t))
	for _, k := range rest {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// checkName rejects names that cannot be host names or that would be
// confusing in output: empty, or with spaces or control characters.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("name must not contain spaces or control characters")
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("%T", v)
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	case []map[string]any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}
