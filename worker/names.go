package worker

import (
	"fmt"
	"strings"
)

// NameError says why a package, version, service, user or group name was
// refused. Names reach commands as argv elements, never through a shell, but
// a name such as "-rf" or "a b" would still be read as an option or two
// arguments, so every name is checked before anything runs.
type NameError struct {
	Kind   string // "package name", "version", "service name", "user name", "group name"
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Kind, e.Name, e.Reason)
}

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
)

// checkChars returns the reason name is refused, or "" when every byte is in
// allowed, the first is in first, and the length is in 1..max.
func checkChars(name, first, allowed string, max int) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > max:
		return fmt.Sprintf("longer than %d characters", max)
	case !strings.ContainsRune(first, rune(name[0])):
		return fmt.Sprintf("must not start with %q", name[0])
	}
	for i := 0; i < len(name); i++ {
		if !strings.ContainsRune(allowed, rune(name[i])) {
			return fmt.Sprintf("must not contain %q", name[i])
		}
	}
	return ""
}

// ValidatePackageName checks name against the rules of the package format
// used by method: Debian policy for apt (lower case, at least two
// characters, an optional ":arch" qualifier), RPM for dnf and yum, and apk's
// for apk. Without a method (not yet chosen from facts) the union of those
// alphabets is allowed; Plan checks again once the method is known.
func ValidatePackageName(method, name string) error {
	var reason string
	switch method {
	case "apt":
		base, arch, hasArch := strings.Cut(name, ":")
		reason = checkChars(base, lower+digits, lower+digits+"+-.", 255)
		if reason == "" && len(base) < 2 {
			reason = "Debian package names have at least two characters"
		}
		if reason == "" && hasArch {
			if r := checkChars(arch, lower+digits, lower+digits+"-", 32); r != "" {
				reason = "architecture qualifier " + r
			}
		}
	case "dnf", "yum", "apk":
		reason = checkChars(name, lower+upper+digits+"_", lower+upper+digits+"+-._", 255)
	default:
		reason = checkChars(name, lower+upper+digits+"_", lower+upper+digits+"+-._:", 255)
	}
	if reason != "" {
		return &NameError{Kind: "package name", Name: name, Reason: reason}
	}
	return nil
}

// ValidateVersion checks a package version: Debian's [epoch:]upstream[-rev],
// RPM's version[-release] and apk's version[-rN] all fit this alphabet.
func ValidateVersion(v string) error {
	if r := checkChars(v, digits+lower+upper, lower+upper+digits+".+~:_^-", 128); r != "" {
		return &NameError{Kind: "version", Name: v, Reason: r}
	}
	return nil
}

// ValidateServiceName accepts systemd unit names ("nginx", "nginx.service",
// "getty@tty1.service") and init script names. A slash is refused so the
// name cannot reach outside /etc/init.d.
func ValidateServiceName(name string) error {
	reason := checkChars(name, lower+upper+digits+"_", lower+upper+digits+":_.@\\-", 255)
	if reason != "" {
		return &NameError{Kind: "service name", Name: name, Reason: reason}
	}
	return nil
}

// ValidateUserName checks a POSIX account name as shadow-utils accepts it:
// a letter or underscore, then letters, digits, '.', '_' or '-', at most 32
// characters, with an optional trailing '$' (Samba machine accounts).
func ValidateUserName(name string) error {
	if r := accountName(name); r != "" {
		return &NameError{Kind: "user name", Name: name, Reason: r}
	}
	return nil
}

// ValidateGroupName applies the user name rules to a group name.
func ValidateGroupName(name string) error {
	if r := accountName(name); r != "" {
		return &NameError{Kind: "group name", Name: name, Reason: r}
	}
	return nil
}

func accountName(name string) string {
	body := strings.TrimSuffix(name, "$")
	if body == "" && name != "" {
		return "must not be just '$'"
	}
	if len(name) > 32 {
		return "longer than 32 characters"
	}
	return checkChars(body, lower+upper+"_", lower+upper+digits+"._-", 32)
}
