// Package policy is the Starlark runtime of opsmop: it evaluates a policy
// file, exposes OpsMop's builtins (Policy, Role, the resource constructors,
// T, Eval, TomlInventory), converts Starlark values to plain Go values, and
// renders Jinja2 templates and expressions through gonja.
//
// Load runs the file once; its module globals are then frozen, so the
// functions a role carries (resources=lambda host: ...) can be called for
// many hosts at once, each call on its own starlark.Thread (Role.Expand).
//
// Everything the user wrote that is wrong comes back as an *Error carrying
// file:line:col, never as a panic or a Starlark backtrace.
package policy
