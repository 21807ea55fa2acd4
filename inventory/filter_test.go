package inventory

import (
	"reflect"
	"strings"
	"testing"
)

const filterInventory = `
[groups.webservers.hosts]
web1 = ""
web2 = ""
[groups.webservers_eu.hosts]
web-eu1 = ""
[groups.dbservers.hosts]
db1 = ""
web2 = ""
[hosts.lonely.vars]
x = 1
`

func names(inv *Inventory) []string {
	out := []string{}
	for _, h := range inv.Hosts() {
		out = append(out, h.Name)
	}
	return out
}

func TestFilter(t *testing.T) {
	inv, err := parseTOML("filter.toml", filterInventory)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		groups, hosts []string
		want          []string
		wantGroups    []string
	}{
		{"everything", nil, nil, []string{"web1", "web2", "web-eu1", "db1", "lonely"}, []string{"webservers", "webservers_eu", "dbservers"}},
		{"group all", []string{"all"}, nil, []string{"web1", "web2", "web-eu1", "db1", "lonely"}, []string{"webservers", "webservers_eu", "dbservers"}},
		{"group star", []string{"*"}, nil, []string{"web1", "web2", "web-eu1", "db1", "lonely"}, []string{"webservers", "webservers_eu", "dbservers"}},
		{"exact group", []string{"webservers"}, nil, []string{"web1", "web2"}, []string{"webservers", "dbservers"}},
		{"group prefix", []string{"webservers*"}, nil, []string{"web1", "web2", "web-eu1"}, []string{"webservers", "webservers_eu", "dbservers"}},
		{"two groups", []string{"dbservers", "webservers_eu"}, nil, []string{"web2", "web-eu1", "db1"}, []string{"webservers", "webservers_eu", "dbservers"}},
		{"no such group", []string{"mail*"}, nil, []string{}, nil},
		{"hosts only", nil, []string{"web?"}, []string{"web1", "web2"}, []string{"webservers", "dbservers"}},
		{"hosts within groups", []string{"dbservers"}, []string{"web*"}, []string{"web2"}, []string{"webservers", "dbservers"}},
		{"character class", nil, []string{"web[2-9]", "db[0-9]"}, []string{"web2", "db1"}, []string{"webservers", "dbservers"}},
		{"escaped star", nil, []string{`web\*`}, []string{}, nil},
		{"group-less host by name", nil, []string{"lonely"}, []string{"lonely"}, nil},
		{"whole name only", nil, []string{"web"}, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inv.Filter(tt.groups, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("hosts = %v, want %v", names(got), tt.want)
			}
			if !reflect.DeepEqual(got.Groups(), tt.wantGroups) {
				t.Errorf("groups = %v, want %v", got.Groups(), tt.wantGroups)
			}
		})
	}
}

func TestFilterBadPattern(t *testing.T) {
	inv, err := parseTOML("filter.toml", filterInventory)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		groups, hosts []string
	}{
		{"bad group pattern", []string{"web[", "*"}, nil},
		{"bad host pattern", nil, []string{"*", "db[1-"}},
		{"bad pattern after a match", []string{"webservers", "x\\"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := inv.Filter(tt.groups, tt.hosts); err == nil || !strings.Contains(err.Error(), "bad pattern") {
				t.Errorf("Filter error = %v, want bad pattern", err)
			}
			if _, err := inv.Limit(tt.groups, tt.hosts); err == nil || !strings.Contains(err.Error(), "bad pattern") {
				t.Errorf("Limit error = %v, want bad pattern", err)
			}
		})
	}
}

// Limit applies on top of a role's filter: it can only narrow, and its
// group patterns see every group a host is in.
func TestLimit(t *testing.T) {
	inv, err := parseTOML("filter.toml", filterInventory)
	if err != nil {
		t.Fatal(err)
	}
	web, err := inv.Filter([]string{"webservers*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		groups, hosts []string
		want          []string
	}{
		{"no limit", nil, nil, []string{"web1", "web2", "web-eu1"}},
		{"limit hosts", nil, []string{"web-*"}, []string{"web-eu1"}},
		{"limit to a group outside the filter", []string{"dbservers"}, nil, []string{"web2"}},
		{"cannot widen", nil, []string{"db1", "lonely"}, []string{}},
		{"both", []string{"webservers"}, []string{"*1"}, []string{"web1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := web.Limit(tt.groups, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("hosts = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestFilterNilInventory(t *testing.T) {
	var inv *Inventory
	got, err := inv.Filter(nil, nil)
	if err != nil || len(got.Hosts()) != 0 {
		t.Errorf("Filter on nil = %v, %v; want empty", got.Hosts(), err)
	}
}
