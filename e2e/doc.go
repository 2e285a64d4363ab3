// Package e2e runs cilium-chain end to end against the real cilium-agent v1.20.2: a node network
// namespace with etcd and the agent, the real Flannel CNI plugin as the primary, cnitool driving
// pods in network namespaces of their own, and eBPF policy checked with real TCP connections.
//
// The tests carry the build tag "e2e" and need root; run them with `make e2e` (or `make demo` for
// the narrated walkthrough). Nothing runs in the machine's own network namespace.
package e2e
