package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Defaults are the connection settings of a defaults file:
//
//	[ssh]
//	username = "deploy"
//	password = "..."            # better: keys and ssh-agent
//	check_host_keys = "accept-new"
//	identity_files = ["~/.ssh/deploy_ed25519"]
//	[sudo]
//	username = "root"
//	password = "..."
//	enabled = true
//
// Empty strings are unset. Path is the file they came from ("" if none).
type Defaults struct {
	SSH struct {
		Username, Password, CheckHostKeys string
		IdentityFiles                     []string
	}
	Sudo struct {
		Username, Password string
		Enabled            *bool
	}
	Path string
}

// SystemDefaultsPath is read when the user has no ~/.opsmop/defaults.toml.
const SystemDefaultsPath = "/etc/opsmop/defaults.toml"

// LoadDefaults reads ~/.opsmop/defaults.toml if it exists, else
// /etc/opsmop/defaults.toml, else returns empty Defaults. The files are not
// merged: the first one found is the whole of the defaults.
func LoadDefaults() (*Defaults, error) {
	return LoadDefaultsFrom(defaultsPaths()...)
}

func defaultsPaths() []string {
	var paths []string
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		paths = append(paths, filepath.Join(home, ".opsmop", "defaults.toml"))
	}
	return append(paths, SystemDefaultsPath)
}

// LoadDefaultsFrom reads the first of paths that exists. A file that
// exists but cannot be read or parsed is an error, not skipped: falling
// through to another file would connect with settings nobody meant.
func LoadDefaultsFrom(paths ...string) (*Defaults, error) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read defaults: %w", err)
		}
		return parseDefaults(p, string(data))
	}
	return &Defaults{}, nil
}

func parseDefaults(file, src string) (*Defaults, error) {
	doc, md, err := decodeTOML(file, src)
	if err != nil {
		return nil, err
	}
	p := &tomlParser{file: file, src: src, md: md}
	d := &Defaults{Path: file}
	for _, k := range p.orderedKeys(doc) {
		if k != "ssh" && k != "sudo" {
			return nil, p.errorf([]string{k}, "unknown section %q (want ssh or sudo)", k)
		}
	}
	ssh, err := p.table(doc, "ssh")
	if err != nil {
		return nil, err
	}
	fields := map[string]func(path []string, v any) error{
		"username":        p.stringField(&d.SSH.Username),
		"password":        p.stringField(&d.SSH.Password),
		"check_host_keys": p.checkHostKeysField(&d.SSH.CheckHostKeys),
		"identity_files":  p.stringsField(&d.SSH.IdentityFiles),
	}
	if err := p.fields(ssh, "ssh", fields); err != nil {
		return nil, err
	}
	sudo, err := p.table(doc, "sudo")
	if err != nil {
		return nil, err
	}
	fields = map[string]func(path []string, v any) error{
		"username": p.stringField(&d.Sudo.Username),
		"password": p.stringField(&d.Sudo.Password),
		"enabled":  p.boolField(&d.Sudo.Enabled),
	}
	if err := p.fields(sudo, "sudo", fields); err != nil {
		return nil, err
	}
	return d, nil
}

// fields sets each key of section t through its setter; unknown keys are
// errors, since a misspelt setting would otherwise be silently ignored.
func (p *tomlParser) fields(t map[string]any, section string, set map[string]func([]string, any) error) error {
	for _, k := range p.orderedKeys(t, section) {
		path := []string{section, k}
		f, ok := set[k]
		if !ok {
			return p.errorf(path, "[%s]: unknown key %q", section, k)
		}
		if err := f(path, t[k]); err != nil {
			return err
		}
	}
	return nil
}

func (p *tomlParser) stringField(dst *string) func([]string, any) error {
	return func(path []string, v any) error {
		s, ok := v.(string)
		if !ok {
			return p.errorf(path, "[%s] %s: want a string, got %s", path[0], path[1], typeName(v))
		}
		*dst = s
		return nil
	}
}

func (p *tomlParser) boolField(dst **bool) func([]string, any) error {
	return func(path []string, v any) error {
		b, ok := v.(bool)
		if !ok {
			return p.errorf(path, "[%s] %s: want true or false, got %s", path[0], path[1], typeName(v))
		}
		*dst = &b
		return nil
	}
}

func (p *tomlParser) checkHostKeysField(dst *string) func([]string, any) error {
	return func(path []string, v any) error {
		s, err := parseCheckHostKeys(v)
		if err != nil {
			return p.errorf(path, "[%s] %s: %v", path[0], path[1], err)
		}
		*dst = s
		return nil
	}
}

func (p *tomlParser) stringsField(dst *[]string) func([]string, any) error {
	return func(path []string, v any) error {
		list, ok := v.([]any)
		if !ok {
			return p.errorf(path, "[%s] %s: want a list of strings, got %s", path[0], path[1], typeName(v))
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return p.errorf(path, "[%s] %s: want a list of strings, got a list holding %s", path[0], path[1], typeName(e))
			}
			*dst = append(*dst, s)
		}
		return nil
	}
}
