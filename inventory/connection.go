package inventory

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Credential is a user name and an optional password, as a role's ssh_as
// and sudo_as give them. An empty User or a nil Password is unset: that
// part falls through to the inventory, the defaults file and built-ins.
type Credential struct {
	User     string
	Password *string // nil: none given
}

// RoleConn holds a role's connection fields; the zero value of each field
// (nil, "") means the role left it unset (None).
type RoleConn struct {
	SSHAs, SudoAs *Credential
	Sudo          *bool
	CheckHostKeys string // "true", "false", "accept-new" or ""
}

// Check host key policies.
const (
	CheckHostKeysTrue      = "true"
	CheckHostKeysFalse     = "false"
	CheckHostKeysAcceptNew = "accept-new"
)

// Connection kinds.
const (
	ConnectionSSH   = "ssh"
	ConnectionLocal = "local"
)

// ConnSettings is how to reach one host and run its worker.
type ConnSettings struct {
	Name, Address string
	Port          int
	User          string
	Password      *string
	Sudo          bool
	SudoUser      string
	SudoPassword  *string
	CheckHostKeys string // "true" (default), "false", "accept-new"
	IdentityFiles []string
	// Keepalive is the interval of SSH keepalives (opsmop_ssh_keepalive,
	// in seconds); 0 is the transport's default. Three unanswered ones
	// end the connection: how fast a stalled host is given up on.
	Keepalive  time.Duration
	Connection string // "ssh" (default) or "local"
	// Sources says where each field came from, for --verbose: keys are
	// the field names listed in SourceFields, values are "role",
	// "inventory opsmop_port", a defaults file's path or "default".
	Sources map[string]string
}

// SourceFields are the keys of ConnSettings.Sources, in display order.
var SourceFields = []string{"address", "port", "user", "password", "sudo", "sudo_user", "sudo_password", "check_host_keys", "identity_files", "connection", "keepalive"}

// Key identifies the connection the settings describe, so that roles with
// the same settings can share a worker: ConnSettings holds a slice and a
// map and cannot be a map key itself. Sources are not part of the key;
// passwords are, so that a different password means a different session.
func (s ConnSettings) Key() string {
	pw := func(p *string) string {
		if p == nil {
			return "-"
		}
		return "+" + *p
	}
	return strings.Join(append([]string{
		s.Name, s.Address, strconv.Itoa(s.Port), s.User, pw(s.Password), strconv.FormatBool(s.Sudo),
		s.SudoUser, pw(s.SudoPassword), s.CheckHostKeys, s.Connection,
	}, s.IdentityFiles...), "\x00")
}

// Resolve works out the connection settings for a host. Each field comes
// from the first source that sets it: the role, the host's magic opsmop_*
// variables, the defaults file d (may be nil), built-in defaults. A magic
// variable with a bad value is an error naming the host and the variable.
func Resolve(h *Host, role RoleConn, d *Defaults) (ConnSettings, error) {
	if d == nil {
		d = &Defaults{}
	}
	r := resolver{h: h, d: d, s: ConnSettings{Name: h.Name, Sources: map[string]string{}}}
	steps := []func() error{r.address, r.user, r.sudo, r.checkHostKeys, r.identityFiles, r.connection, r.keepalive}
	for _, step := range steps {
		if err := step(); err != nil {
			return ConnSettings{}, fmt.Errorf("host %q: %w", h.Name, err)
		}
	}
	r.credentials(role)
	if role.Sudo != nil {
		r.set("sudo", "role")
		r.s.Sudo = *role.Sudo
	}
	if role.CheckHostKeys != "" {
		v, err := parseCheckHostKeys(role.CheckHostKeys)
		if err != nil {
			return ConnSettings{}, fmt.Errorf("host %q: role check_host_keys: %w", h.Name, err)
		}
		r.s.CheckHostKeys = v
		r.set("check_host_keys", "role")
	}
	return r.s, nil
}

type resolver struct {
	h *Host
	d *Defaults
	s ConnSettings
}

func (r *resolver) set(field, source string) { r.s.Sources[field] = source }

func (r *resolver) defaultsSource() string {
	if r.d.Path != "" {
		return r.d.Path
	}
	return "defaults"
}

// str returns the magic variable name as a string, if the host sets it.
func (r *resolver) str(name string) (string, bool, error) {
	v, ok := r.h.Vars[name]
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("%s: want a string, got %s", name, typeName(v))
	}
	return s, true, nil
}

func (r *resolver) address() error {
	r.s.Address, r.s.Port = r.h.Name, 22
	r.set("address", "default")
	r.set("port", "default")
	hostPort := 0
	if a, ok, err := r.str("opsmop_host"); err != nil {
		return err
	} else if ok {
		addr, port, err := splitHostPort(a)
		if err != nil {
			return fmt.Errorf("opsmop_host: %w", err)
		}
		r.s.Address = addr
		r.set("address", "inventory opsmop_host")
		if port != 0 {
			r.s.Port, hostPort = port, port
			r.set("port", "inventory opsmop_host")
		}
	}
	if v, ok := r.h.Vars["opsmop_port"]; ok {
		port, err := parsePort(v)
		if err != nil {
			return fmt.Errorf("opsmop_port: %w", err)
		}
		if hostPort != 0 && hostPort != port {
			return fmt.Errorf("opsmop_host says port %d but opsmop_port says %d", hostPort, port)
		}
		r.s.Port = port
		r.set("port", "inventory opsmop_port")
	}
	return nil
}

// splitHostPort accepts "host", "host:port", "[v6addr]", "[v6addr]:port"
// and a bare IPv6 address; port is 0 when not given.
func splitHostPort(a string) (string, int, error) {
	if a == "" {
		return "", 0, fmt.Errorf("empty address")
	}
	if strings.HasPrefix(a, "[") {
		if strings.HasSuffix(a, "]") {
			return a[1 : len(a)-1], 0, nil
		}
	} else if strings.Count(a, ":") != 1 {
		return a, 0, nil // a name, or an IPv6 address without a port
	}
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, fmt.Errorf("bad address %q: want host, host:port or [ipv6]:port", a)
	}
	if host == "" {
		return "", 0, fmt.Errorf("bad address %q: empty host", a)
	}
	port, err := parsePort(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad address %q: %w", a, err)
	}
	return host, port, nil
}

// parsePort accepts an integer or a string of digits in 1..65535.
func parsePort(v any) (int, error) {
	var n int64
	switch t := v.(type) {
	case int64:
		n = t
	case int:
		n = int64(t)
	case string:
		var err error
		if n, err = strconv.ParseInt(t, 10, 32); err != nil {
			return 0, fmt.Errorf("port %q is not a number", t)
		}
	default:
		return 0, fmt.Errorf("want a port number, got %s", typeName(v))
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return int(n), nil
}

func (r *resolver) user() error {
	r.s.User = currentUser()
	r.s.SudoUser = "root"
	r.set("user", "default")
	r.set("sudo_user", "default")
	r.set("password", "default")
	r.set("sudo_password", "default")
	if r.d.SSH.Username != "" {
		r.s.User = r.d.SSH.Username
		r.set("user", r.defaultsSource())
	}
	if r.d.SSH.Password != "" {
		r.s.Password = ptr(r.d.SSH.Password)
		r.set("password", r.defaultsSource())
	}
	if r.d.Sudo.Username != "" {
		r.s.SudoUser = r.d.Sudo.Username
		r.set("sudo_user", r.defaultsSource())
	}
	if r.d.Sudo.Password != "" {
		r.s.SudoPassword = ptr(r.d.Sudo.Password)
		r.set("sudo_password", r.defaultsSource())
	}
	for _, m := range []struct {
		name, field string
		dst         func(string)
	}{
		{"opsmop_ssh_username", "user", func(v string) { r.s.User = v }},
		{"opsmop_ssh_password", "password", func(v string) { r.s.Password = ptr(v) }},
		{"opsmop_sudo_username", "sudo_user", func(v string) { r.s.SudoUser = v }},
		{"opsmop_sudo_password", "sudo_password", func(v string) { r.s.SudoPassword = ptr(v) }},
	} {
		v, ok, err := r.str(m.name)
		if err != nil {
			return err
		}
		if ok {
			m.dst(v)
			r.set(m.field, "inventory "+m.name)
		}
	}
	return nil
}

// credentials applies the role's ssh_as and sudo_as over the rest.
func (r *resolver) credentials(role RoleConn) {
	if c := role.SSHAs; c != nil {
		if c.User != "" {
			r.s.User = c.User
			r.set("user", "role")
		}
		if c.Password != nil {
			r.s.Password = ptr(*c.Password)
			r.set("password", "role")
		}
	}
	if c := role.SudoAs; c != nil {
		if c.User != "" {
			r.s.SudoUser = c.User
			r.set("sudo_user", "role")
		}
		if c.Password != nil {
			r.s.SudoPassword = ptr(*c.Password)
			r.set("sudo_password", "role")
		}
	}
}

func (r *resolver) sudo() error {
	r.set("sudo", "default")
	if r.d.Sudo.Enabled != nil {
		r.s.Sudo = *r.d.Sudo.Enabled
		r.set("sudo", r.defaultsSource())
	}
	return nil
}

func (r *resolver) checkHostKeys() error {
	r.s.CheckHostKeys = CheckHostKeysTrue
	r.set("check_host_keys", "default")
	if r.d.SSH.CheckHostKeys != "" {
		v, err := parseCheckHostKeys(r.d.SSH.CheckHostKeys)
		if err != nil {
			return fmt.Errorf("%s check_host_keys: %w", r.defaultsSource(), err)
		}
		r.s.CheckHostKeys = v
		r.set("check_host_keys", r.defaultsSource())
	}
	if v, ok := r.h.Vars["opsmop_ssh_check_host_keys"]; ok {
		c, err := parseCheckHostKeys(v)
		if err != nil {
			return fmt.Errorf("opsmop_ssh_check_host_keys: %w", err)
		}
		r.s.CheckHostKeys = c
		r.set("check_host_keys", "inventory opsmop_ssh_check_host_keys")
	}
	return nil
}

// parseCheckHostKeys accepts a boolean or "true", "false", "accept-new";
// OpsMop's "ignore" is taken as false.
func parseCheckHostKeys(v any) (string, error) {
	switch t := v.(type) {
	case bool:
		return strconv.FormatBool(t), nil
	case string:
		switch strings.ToLower(t) {
		case "true", "yes":
			return CheckHostKeysTrue, nil
		case "false", "no", "ignore":
			return CheckHostKeysFalse, nil
		case "accept-new":
			return CheckHostKeysAcceptNew, nil
		}
		return "", fmt.Errorf("%q: want true, false or accept-new", t)
	}
	return "", fmt.Errorf("want true, false or accept-new, got %s", typeName(v))
}

func (r *resolver) identityFiles() error {
	r.set("identity_files", "default")
	if len(r.d.SSH.IdentityFiles) > 0 {
		r.s.IdentityFiles = expandHomes(r.d.SSH.IdentityFiles)
		r.set("identity_files", r.defaultsSource())
	}
	v, ok := r.h.Vars["opsmop_identity_file"]
	if !ok {
		return nil
	}
	var files []string
	switch t := v.(type) {
	case string:
		files = []string{t}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("opsmop_identity_file: want a string or a list of strings, got a list holding %s", typeName(e))
			}
			files = append(files, s)
		}
	default:
		return fmt.Errorf("opsmop_identity_file: want a string or a list of strings, got %s", typeName(v))
	}
	r.s.IdentityFiles = expandHomes(files)
	r.set("identity_files", "inventory opsmop_identity_file")
	return nil
}

func (r *resolver) connection() error {
	r.s.Connection = ConnectionSSH
	r.set("connection", "default")
	v, ok, err := r.str("opsmop_connection")
	if err != nil || !ok {
		return err
	}
	if v != ConnectionSSH && v != ConnectionLocal {
		return fmt.Errorf("opsmop_connection: %q: want ssh or local", v)
	}
	r.s.Connection = v
	r.set("connection", "inventory opsmop_connection")
	return nil
}

// currentUser is the built-in SSH user: who runs the controller.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

// expandHomes turns a leading ~/ into the controller user's home.
func expandHomes(files []string) []string {
	home, _ := os.UserHomeDir()
	out := make([]string, len(files))
	for i, f := range files {
		if rest, ok := strings.CutPrefix(f, "~/"); ok && home != "" {
			f = filepath.Join(home, rest)
		}
		out[i] = f
	}
	return out
}

func ptr(s string) *string { return &s }

// keepalive reads opsmop_ssh_keepalive: whole seconds, at least 1.
func (r *resolver) keepalive() error {
	v, ok := r.h.Vars["opsmop_ssh_keepalive"]
	if !ok {
		r.set("keepalive", "default")
		return nil
	}
	var n int64
	switch t := v.(type) {
	case int64:
		n = t
	case string:
		var err error
		if n, err = strconv.ParseInt(t, 10, 32); err != nil {
			return fmt.Errorf("opsmop_ssh_keepalive: %q is not a number of seconds", t)
		}
	default:
		return fmt.Errorf("opsmop_ssh_keepalive: want a number of seconds, got %s", typeName(v))
	}
	if n < 1 {
		return fmt.Errorf("opsmop_ssh_keepalive: want at least 1 second, got %d", n)
	}
	r.s.Keepalive = time.Duration(n) * time.Second
	r.set("keepalive", "inventory opsmop_ssh_keepalive")
	return nil
}
