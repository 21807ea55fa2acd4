package worker

import "testing"

// packageCases covers every plan a Package can make against the states a
// package can be in: missing, installed at the candidate version, and
// installed with a newer version available.
func packageCases(method, installed, candidate string) []goldenCase {
	states := []map[string]string{
		{"SHIM_CANDIDATE": candidate},
		{"SHIM_INSTALLED": candidate, "SHIM_CANDIDATE": candidate},
		{"SHIM_INSTALLED": installed, "SHIM_CANDIDATE": candidate},
	}
	names := []string{"missing", "current", "outdated"}
	paramSets := []map[string]any{
		{},
		{"update_cache": true},
		{"latest": true},
		{"latest": true, "update_cache": true},
		{"version": installed},
		{"version": candidate},
		{"absent": true},
	}
	var cases []goldenCase
	for _, p := range paramSets {
		p["method"] = method
		for i, s := range states {
			cases = append(cases, goldenCase{name: sortedKV(p) + " / " + names[i], params: p, state: s})
		}
	}
	return cases
}

func TestPackageGoldenApt(t *testing.T) {
	cases := packageCases("apt", "2.10-2", "2.10-3")
	cases = append(cases, goldenCase{
		name:   "failing install",
		params: map[string]any{"method": "apt", "update_cache": true},
		state:  map[string]string{"SHIM_FAIL": "apt-get install"},
	})
	runGolden(t, "package_apt.txt", "package", "hello", cases, nil)
}

func TestPackageGoldenDnf(t *testing.T) {
	runGolden(t, "package_dnf.txt", "package", "hello", packageCases("dnf", "2.10-2.fc39", "2.10-3.fc39"), nil)
}

func TestPackageGoldenYum(t *testing.T) {
	runGolden(t, "package_yum.txt", "package", "hello", packageCases("yum", "2.10-2.el7", "2.10-3.el7"), nil)
}

func TestPackageGoldenApk(t *testing.T) {
	runGolden(t, "package_apk.txt", "package", "hello", packageCases("apk", "2.12.1-r0", "2.12.1-r1"), nil)
}
