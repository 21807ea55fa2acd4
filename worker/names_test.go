package worker

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestValidatePackageName(t *testing.T) {
	tests := []struct {
		name, method, pkg string
		ok                bool
	}{
		{"apt plain", "apt", "hello", true},
		{"apt plus and dot", "apt", "libstdc++6.0", true},
		{"apt arch qualifier", "apt", "libc6:i386", true},
		{"apt bad arch", "apt", "libc6:I386", false},
		{"apt empty arch", "apt", "libc6:", false},
		{"apt upper case", "apt", "Hello", false},
		{"apt one char", "apt", "a", false},
		{"apt underscore", "apt", "foo_bar", false},
		{"rpm upper case", "dnf", "NetworkManager", true},
		{"rpm underscore", "yum", "perl-Foo_Bar", true},
		{"rpm colon", "dnf", "a:b", false},
		{"apk plain", "apk", "py3-pip", true},
		{"no method upper", "", "NetworkManager", true},
		{"no method arch", "", "libc6:amd64", true},
		{"option", "apt", "-y", false},
		{"option rpm", "dnf", "--help", false},
		{"space", "apt", "a b", false},
		{"shell", "apt", "a;rm", false},
		{"slash", "dnf", "../x", false},
		{"empty", "apt", "", false},
		{"newline", "apk", "a\nb", false},
		{"too long", "apt", strings.Repeat("a", 256), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePackageName(tc.method, tc.pkg)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidatePackageName(%q, %q) = %v, want ok=%v", tc.method, tc.pkg, err, tc.ok)
			}
			var ne *NameError
			if err != nil && (!errors.As(err, &ne) || !strings.Contains(err.Error(), "package name")) {
				t.Fatalf("error %v is not a package-name NameError", err)
			}
		})
	}
}

func TestValidateVersion(t *testing.T) {
	tests := []struct {
		name, v string
		ok      bool
	}{
		{"debian", "1:2.10-3+deb12u1", true},
		{"tilde", "1.0~rc1-1", true},
		{"rpm", "2.10-3.fc39", true},
		{"apk", "2.12.1-r0", true},
		{"alpha start", "a1", true},
		{"option", "-1", false},
		{"space", "1 2", false},
		{"equals", "1=2", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateVersion(tc.v); (err == nil) != tc.ok {
				t.Fatalf("ValidateVersion(%q) = %v, want ok=%v", tc.v, err, tc.ok)
			}
		})
	}
}

func TestValidateServiceName(t *testing.T) {
	tests := []struct {
		name, svc string
		ok        bool
	}{
		{"plain", "nginx", true},
		{"unit", "nginx.service", true},
		{"template", "getty@tty1.service", true},
		{"escaped", `dev-disk-by\x2dlabel.device`, true},
		{"dashes", "systemd-journald", true},
		{"option", "--now", false},
		{"dot start", ".hidden", false},
		{"dotdot", "..", false},
		{"slash", "../../bin/sh", false},
		{"space", "a b", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateServiceName(tc.svc); (err == nil) != tc.ok {
				t.Fatalf("ValidateServiceName(%q) = %v, want ok=%v", tc.svc, err, tc.ok)
			}
		})
	}
}

func TestValidateUserGroupName(t *testing.T) {
	tests := []struct {
		name, n string
		ok      bool
	}{
		{"plain", "deploy", true},
		{"underscore start", "_apt", true},
		{"dash dot digits", "opsmop-t1.x", true},
		{"machine account", "host1$", true},
		{"upper", "Admin", true},
		{"digit start", "1abc", false},
		{"all digits", "1000", false},
		{"dollar only", "$", false},
		{"dollar inside", "a$b", false},
		{"option", "-r", false},
		{"colon", "a:b", false},
		{"space", "a b", false},
		{"empty", "", false},
		{"33 chars", strings.Repeat("a", 33), false},
		{"32 chars", strings.Repeat("a", 32), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateUserName(tc.n); (err == nil) != tc.ok {
				t.Fatalf("ValidateUserName(%q) = %v, want ok=%v", tc.n, err, tc.ok)
			}
			if err := ValidateGroupName(tc.n); (err == nil) != tc.ok {
				t.Fatalf("ValidateGroupName(%q) = %v, want ok=%v", tc.n, err, tc.ok)
			}
		})
	}
}

// FuzzValidateNames checks the property every validator promises: an
// accepted name can neither be read as an option nor split, redirected or
// used as a path, whatever the input. Seeds live in testdata/fuzz.
func FuzzValidateNames(f *testing.F) {
	f.Add("hello")
	f.Add("-rf")
	f.Fuzz(func(t *testing.T, s string) {
		checks := map[string]error{
			"apt":     ValidatePackageName("apt", s),
			"dnf":     ValidatePackageName("dnf", s),
			"apk":     ValidatePackageName("apk", s),
			"any":     ValidatePackageName("", s),
			"version": ValidateVersion(s),
			"service": ValidateServiceName(s),
			"user":    ValidateUserName(s),
			"group":   ValidateGroupName(s),
		}
		for kind, err := range checks {
			if err != nil {
				if !strings.Contains(err.Error(), "invalid") {
					t.Fatalf("%s: error %q does not say what is invalid", kind, err)
				}
				continue
			}
			if s == "" || s[0] == '-' || s[0] == '.' || strings.ContainsAny(s, "/=;|&$`'\"<>*?() \t\n\x00") && !(kind == "user" || kind == "group") {
				t.Fatalf("%s accepted unsafe name %q", kind, s)
			}
			if (kind == "user" || kind == "group") && strings.ContainsAny(strings.TrimSuffix(s, "$"), "/=;|&$`'\"<>*?() \t\n\x00:") {
				t.Fatalf("%s accepted unsafe name %q", kind, s)
			}
			for _, r := range s {
				if r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) {
					t.Fatalf("%s accepted non-printable or non-ASCII name %q", kind, s)
				}
			}
		}
	})
}
