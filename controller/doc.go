// Package controller runs a policy: it evaluates each role for each host,
// drives a worker per host through the protocol package, and reports what
// happened as a stream of Events that a Reporter renders for people (text) or
// machines (JSON lines).
//
// The data flows one way: policy → controller → protocol → worker, and
// results flow back as events. The controller decides everything that needs
// the policy (conditions, templates, variables, handlers); the worker only
// plans and applies fully resolved resources.
package controller
