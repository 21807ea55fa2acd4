package controller

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opsmop/opsmop/inventory"
)

const fleetInventory = `
[groups.web.hosts]
web1 = "code=0"
web2 = "code=1"
web3 = "code=0"
web4 = "code=1"
[groups.db.hosts]
db1 = "code=0"
[groups.web.vars]
tier = "front"
[hosts.web3.vars]
tier = "special"
`

func pushPolicy(role string) map[string]string {
	return map[string]string{
		"inventory.toml": fleetInventory,
		"policy.star":    `inv = TomlInventory("inventory.toml")` + "\npolicy = Policy(roles=[" + role + "])",
	}
}

func pushRun(t *testing.T, files map[string]string, mods ...runOpts) (*recorder, *Summary, error) {
	_, path := writePolicy(t, files)
	return runPolicy(t, path, false, append([]runOpts{func(o *Options) { o.Push = true }}, mods...)...)
}

func TestPushVarsPerHost(t *testing.T) {
	rec, sum, err := pushRun(t, pushPolicy(`Role("r", inventory=inv, resources=[Echo("{{ inventory_hostname }} {{ tier | default('none') }}")])`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"db1 none", "web1 front", "web2 front", "web3 special", "web4 front"}
	if got := sorted(rec.outputs()); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if len(sum.Hosts) != 5 {
		t.Fatalf("summary has %d hosts", len(sum.Hosts))
	}
}

func TestPushFilterAndLimit(t *testing.T) {
	role := `Role("r", inventory=inv.filter(groups="web"), resources=[Echo("{{ inventory_hostname }}")])`
	rec, _, err := pushRun(t, pushPolicy(role), func(o *Options) { o.LimitHosts = []string{"web[12]"} })
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(rec.outputs()); !slices.Equal(got, []string{"web1", "web2"}) {
		t.Fatalf("got %q", got)
	}
}

func TestPushFailuresAndUnreachable(t *testing.T) {
	role := `Role("r", inventory=inv, resources=[Shell(T("exit {{ code }}")), Echo("after")])`
	rec, sum, err := pushRun(t, pushPolicy(role), func(o *Options) { o.Dial = pipeDialer(t, "db1") })
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("err = %v", err)
	}
	if got := sorted(sum.FailedHosts()); !slices.Equal(got, []string{"web2", "web4"}) {
		t.Fatalf("failed hosts %q", got)
	}
	if got := sum.UnreachableHosts(); !slices.Equal(got, []string{"db1"}) {
		t.Fatalf("unreachable %q", got)
	}
	if got := len(rec.outputs()); got != 2 {
		t.Fatalf("%d hosts went on after the shell, want web1 and web3", got)
	}
	if u := rec.kind(EvUnreachabl); len(u) != 1 || !strings.Contains(u[0].Error, "connection refused") {
		t.Fatalf("unreachable events %+v", u)
	}
}

func TestSerialBatches(t *testing.T) {
	tests := []struct {
		name, serial string
		maxFail      string
		wantBatches  int
		wantRan      int // hosts that ran the echo
		wantAborted  bool
	}{
		// web2 and web4 fail their shell, so three hosts reach the echo.
		{"count", `"2"`, "None", 3, 3, false},
		{"percentage rounds up", `"40%"`, "None", 3, 3, false},
		{"one batch", `None`, "None", 0, 3, false},
		// Batches of 2 in file order: web1 ok, web2 fails (1/5 = 20% > 10%).
		{"max fail stops later batches", `"2"`, "10", 3, 1, true},
		{"max fail not exceeded", `"2"`, "50", 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := `Role("r", inventory=inv, serial=` + tt.serial + `, max_fail_percentage=` + tt.maxFail +
				`, resources=[Shell(T("exit {{ code }}")), Echo("{{ inventory_hostname }}")])`
			rec, sum, _ := pushRun(t, pushPolicy(role))
			if got := len(rec.kind(EvBatch)); got != tt.wantBatches && !(tt.wantAborted && got < tt.wantBatches) {
				t.Fatalf("batches %d, want %d", got, tt.wantBatches)
			}
			if got := len(rec.outputs()); got != tt.wantRan {
				t.Fatalf("%d hosts ran, want %d: %q", got, tt.wantRan, rec.outputs())
			}
			if (sum.Aborted != "") != tt.wantAborted {
				t.Fatalf("aborted = %q", sum.Aborted)
			}
		})
	}
}

func TestBatchSize(t *testing.T) {
	tests := []struct {
		serial  string
		total   int
		want    int
		wantErr bool
	}{
		{"", 10, 10, false}, {"3", 10, 3, false}, {"25%", 10, 3, false}, {"1%", 500, 5, false},
		{"0", 10, 0, true}, {"x", 10, 0, true}, {"150%", 10, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.serial, func(t *testing.T) {
			got, err := batchSize(tt.serial, tt.total)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("batchSize(%q, %d) = %d, %v", tt.serial, tt.total, got, err)
			}
		})
	}
}

func TestPushNeedsInventory(t *testing.T) {
	_, _, err := pushRun(t, pushPolicy(`Role("r", resources=[Echo("x")])`))
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `role "r" has no inventory`) {
		t.Fatalf("got %v", err)
	}
}

func TestFleetMustFitOpenFiles(t *testing.T) {
	_, _, err := pushRun(t, pushPolicy(`Role("r", inventory=inv, resources=[Echo("x")])`), func(o *Options) { o.OpenFiles = 20 })
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "the fleet of 5 hosts needs about 69 open files, but the limit is 20") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := pushRun(t, pushPolicy(`Role("r", inventory=inv, resources=[Echo("x")])`), func(o *Options) { o.OpenFiles = 1024 }); err != nil {
		t.Fatalf("a fleet that fits: %v", err)
	}
}

func TestCanary(t *testing.T) {
	tests := []struct {
		name        string
		inventory   string
		wantBatches []int // hosts per batch
		wantAborted bool
	}{
		{"canary then the rest in one batch", fleetInventory, []int{1, 3}, false},
		{"a failing canary stops the role", "[groups.web.hosts]\nweb2 = \"code=1\"\nweb1 = \"code=0\"\nweb3 = \"code=0\"\n", []int{1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := pushPolicy(`Role("r", inventory=inv.filter(groups="web"), canary=True, resources=[Shell(T("exit {{ code }}"))])`)
			files["inventory.toml"] = tt.inventory
			rec, sum, _ := pushRun(t, files)
			var got []int
			for _, b := range rec.kind(EvBatch) {
				got = append(got, len(b.Batch.Hosts))
			}
			if !slices.Equal(got, tt.wantBatches) {
				t.Fatalf("batches %v, want %v", got, tt.wantBatches)
			}
			if (sum.Aborted != "") != tt.wantAborted {
				t.Fatalf("aborted = %q", sum.Aborted)
			}
		})
	}
}

func TestVerboseTextShowsTransfer(t *testing.T) {
	var buf strings.Builder
	rep := NewTextReporter(&buf, false, true, true)
	rep.Report(Event{Kind: EvRunDone, Summary: &Summary{Hosts: []HostSummary{{Name: "web1", HostStats: HostStats{BytesSent: 345, WorkerBytes: 0, RoundTrips: 1, Calls: 2}}}}})
	if !strings.Contains(buf.String(), "web1: sent 345 bytes (worker 0), 1 round trips to start, 2 calls") {
		t.Fatalf("got:\n%s", buf.String())
	}
}

func TestNoHostMatched(t *testing.T) {
	_, _, err := pushRun(t, pushPolicy(`Role("r", inventory=inv, resources=[Echo("x")])`), func(o *Options) { o.LimitHosts = []string{"wbe*"} })
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `no host matched`) || !strings.Contains(err.Error(), `["wbe*"]`) {
		t.Fatalf("got %v", err)
	}
}

// TestPrecedenceDocExample pins the worked example of docs/language.md.
func TestPrecedenceDocExample(t *testing.T) {
	files := map[string]string{
		"inventory.toml": "[groups.web.hosts]\nweb1 = \"tier=front\"\n[groups.web.vars]\nport = 8080\ntier = \"back\"\ncolour = \"grey\"\n[hosts.web1.vars]\nport = 8081\n",
		"policy.star": `inv = TomlInventory("inventory.toml")
policy = Policy(
    variables={"colour": "blue", "env": "prod"},
    roles=[Role("web", inventory=inv,
        variables={"colour": "green"},
        resources=[
            Echo("{{ port }} {{ tier }} {{ colour }} {{ env }}"),
            Set(env="staging"),
            Echo("{{ env }}"),
        ])],
)`,
	}
	tests := []struct {
		name  string
		extra map[string]any
		want  []string
	}{
		{"with --extra-vars colour=red", map[string]any{"colour": "red"}, []string{"8081 front red prod", "staging"}},
		{"without", nil, []string{"8081 front green prod", "staging"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, _, err := pushRun(t, files, func(o *Options) { o.ExtraVars = tt.extra })
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.outputs(); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescribeConn(t *testing.T) {
	pw := "secret"
	s := inventory.ConnSettings{User: "deploy", Address: "10.0.0.5", Port: 2222, Sudo: true, SudoUser: "root", SudoPassword: &pw,
		Sources: map[string]string{"address": "inventory opsmop_host", "user": "role", "sudo_password": "/root/.opsmop/defaults.toml", "port": "inventory opsmop_host", "sudo": "role", "sudo_user": "default"}}
	got := describeConn(s)
	want := "deploy@10.0.0.5:2222, sudo to root (address from inventory opsmop_host, port from inventory opsmop_host, user from role, sudo from role, sudo_password from /root/.opsmop/defaults.toml)"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.Contains(got, pw) {
		t.Fatal("a password in the description")
	}
}
