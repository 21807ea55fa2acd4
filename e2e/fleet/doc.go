// Package fleet runs a fleet of real SSH test hosts on this machine, for
// end-to-end tests and benchmarks of opsmop-push. It needs root on Debian
// with openssh-server, sudo and iproute2 (e2e/setup.sh installs them).
//
//	fleet.Require(t)
//	f, err := fleet.Start(ctx, fleet.Options{Hosts: 3, SudoPassword: map[int]string{1: "pw"}})
//	...
//	defer f.Close()
//
// # Network
//
// Each fleet creates a bridge "<fleet>-br" in the root namespace holding one
// /22 of 10.213.0.0/16, a range that exists only on this machine, so no
// traffic leaves it. Every host is a network namespace "<fleet>-<i>" joined
// to the bridge by a veth pair (eth0 inside), with its own address and its
// own sshd listening on port 22. The controller under test runs in the root
// namespace and reaches every host directly. Blocks are allocated under a
// machine-wide lock (/run/opsmop-e2e/lock) from the addresses already in
// use, so fleets of test binaries running in parallel never collide; a
// fleet holds at most MaxHosts hosts and 64 fleets can run at once.
//
// # Shared file system: one user per host
//
// Namespaces split only the network: hosts share the file system, the
// process table and the hostname. Each host therefore has its own login user
// "<fleet>-<i>", whose home (Host.Home, below Fleet.Dir) and processes tell
// the hosts apart. Per-host state that a test asserts on must live in the
// user's home or in Host.Dir(), a root-owned scratch directory per host;
// a policy that writes /etc/motd on "every host" writes one file. Tests find
// a host's processes by its user (or by its namespace with Fleet.Exec).
//
// # sshd and sudo
//
// sshd is kept light for fleets of hundreds: no PAM, DNS, motd or lastlog,
// high MaxStartups; AllowUsers admits only the host's own user. Host and
// user keys are ed25519 keys generated in Go; Fleet.KnownHosts lists every
// host's key as of Start. Users without a sudo password get NOPASSWD rules;
// a user with one (Options.SudoPassword) needs it for sudo on every call
// (timestamp_timeout=0) and may also log in with it over SSH.
// Options.RequireTTY adds "requiretty". Rules live in
// /etc/sudoers.d/<fleet>-<i>, validated with visudo and written atomically.
//
// # Cleanup
//
// Close kills every process in the fleet's namespaces or of its users
// (including what an SSH session left running), then removes namespaces,
// links, users with their groups, sudoers files and Fleet.Dir. A run that
// crashed leaves these behind; a registry in /run/opsmop-e2e/fleets records
// the owning process of each live fleet, and Sweep, which Start calls,
// removes every fleet of the prefix whose owner is gone, leaving fleets of
// live processes alone.
//
// # Cost
//
// Measured on 2 cores (go test -run NONE -bench Start -benchtime 1x, with
// OPSMOP_FLEET_BENCH_SIZES): start 0.13 s for 5 hosts, 0.8 s for 50, 3.6 s
// for 200, 11 s for 500. Close is dominated by userdel (about 20 ms a
// user): 0.2 s, 1 s, 4 s, and 13-40 s for 500.
package fleet
