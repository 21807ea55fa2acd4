// Package inventory reads the hosts push mode runs on and works out how to
// reach each of them.
//
// An inventory comes from a TOML file in OpsMop's format (LoadTOML): groups
// of hosts, with variables attached to groups and to hosts. It can be
// narrowed with fnmatch patterns (Filter, Limit), as a role's
// inventory=TomlInventory(...).filter(...) and opsmop-push's --limit-groups
// and --limit-hosts do.
//
// Connection settings for a host (Resolve) come from, in order: the role's
// ssh_as/sudo/sudo_as/check_host_keys, the host's magic opsmop_* variables,
// the defaults file (LoadDefaults) and built-in defaults. docs/inventory.md
// describes the format and the precedence with a worked example.
package inventory
