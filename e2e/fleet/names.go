package fleet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// Every object a fleet creates is named "<fleet>-<suffix>", where <fleet> is
// the prefix followed by exactly idLen hex digits. The fixed length and the
// dash make the owner of a name unambiguous even when one prefix is a prefix
// of another ("omt" and "omta"), which Sweep relies on.
const (
	idLen        = 4
	maxPrefixLen = 6 // keeps "<prefix><id>-<index>" within IFNAMSIZ-1 (15) for 4-digit indexes
	// MaxHosts is the largest fleet: one /22 minus network, bridge and broadcast addresses.
	MaxHosts = 1021
)

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)

func validatePrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return fmt.Errorf("fleet: prefix %q must be 1-%d lowercase letters or digits starting with a letter", p, maxPrefixLen)
	}
	return nil
}

// newFleetName returns prefix plus a random hex id.
func newFleetName(prefix string) (string, error) {
	b := make([]byte, idLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("fleet: read random id: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// fleetOf returns the fleet name that owns object name, if name was made by
// a fleet with the given prefix: "<prefix><4 hex>" alone or followed by "-".
func fleetOf(prefix, name string) (string, bool) {
	n := len(prefix) + idLen
	if len(name) < n || name[:len(prefix)] != prefix {
		return "", false
	}
	for _, c := range name[len(prefix):n] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	if len(name) > n && name[n] != '-' {
		return "", false
	}
	return name[:n], true
}

// Object names for host i of fleet name. Namespace, root-side veth and user
// share one name; they live in separate name spaces of the kernel and libc.
func hostObjName(fleet string, i int) string { return fleet + "-" + strconv.Itoa(i) }
func bridgeName(fleet string) string         { return fleet + "-br" }
func sudoersName(fleet string, i int) string {
	return "/etc/sudoers.d/" + hostObjName(fleet, i)
}

// Addressing: every fleet owns one /22 block of 10.213.0.0/16, a range that
// exists only on this machine, on a bridge of its own. The bridge takes the
// block's .1 and host i takes block+2+i.
var pool = netip.MustParsePrefix("10.213.0.0/16")

const (
	blockBits = 22
	numBlocks = 1 << (blockBits - 16)
)

func blockPrefix(b int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(b * 4), 0}), blockBits)
}

// nthAddr returns the address n positions after the block's network address.
func nthAddr(b, n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 213, byte(b*4 + n/256), byte(n % 256)})
}

func bridgeAddr(b int) netip.Addr  { return nthAddr(b, 1) }
func hostAddr(b, i int) netip.Addr { return nthAddr(b, i+2) }

// blockOf returns the block index of an address on one of our bridges.
func blockOf(a netip.Addr, bits int) (int, bool) {
	if bits != blockBits || !a.Is4() || !pool.Contains(a) {
		return 0, false
	}
	return int(a.As4()[2]) / 4, true
}
