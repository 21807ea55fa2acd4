package fleet

import "testing"

func TestFleetOf(t *testing.T) {
	tests := []struct {
		name, prefix, obj, want string
		ok                      bool
	}{
		{"fleet itself", "omt", "omt1a2b", "omt1a2b", true},
		{"host object", "omt", "omt1a2b-17", "omt1a2b", true},
		{"bridge", "omt", "omt1a2b-br", "omt1a2b", true},
		{"longer prefix is not ours", "omt", "omta1b2c-0", "", false},
		{"shorter id", "omt", "omt1a2", "", false},
		{"non-hex id", "omt", "omt1a2g-0", "", false},
		{"other prefix", "omt", "xyz1a2b-0", "", false},
		{"uppercase hex is not ours", "omt", "omt1A2B-0", "", false},
		{"longer prefix owner", "omta", "omta1b2c-0", "omta1b2c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := fleetOf(tt.prefix, tt.obj)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("fleetOf(%q, %q) = %q, %v; want %q, %v", tt.prefix, tt.obj, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"omt", true}, {"a", true}, {"abc123", true},
		{"", false}, {"abc1234", false}, {"1ab", false}, {"Omt", false}, {"om-t", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if err := validatePrefix(tt.prefix); (err == nil) != tt.ok {
				t.Fatalf("validatePrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name        string
		block, host int
		want        string
	}{
		{"first host of first block", 0, 0, "10.213.0.2"},
		{"crosses octet", 0, 254, "10.213.1.0"},
		{"last host of a block", 1, MaxHosts - 1, "10.213.7.254"},
		{"last block", numBlocks - 1, 0, "10.213.252.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := hostAddr(tt.block, tt.host)
			if a.String() != tt.want {
				t.Fatalf("hostAddr(%d, %d) = %v, want %s", tt.block, tt.host, a, tt.want)
			}
			p := blockPrefix(tt.block)
			if !p.Contains(a) || a == bridgeAddr(tt.block) {
				t.Fatalf("%v not a host address of block %v", a, p)
			}
			if b, ok := blockOf(bridgeAddr(tt.block), blockBits); !ok || b != tt.block {
				t.Fatalf("blockOf(bridge of %d) = %d, %v", tt.block, b, ok)
			}
		})
	}
}
