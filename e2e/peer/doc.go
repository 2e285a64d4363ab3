// Package peer holds what both real-peer harnesses need from the same real programs: e2e/ (the
// cilium-agent without Kubernetes) and e2e/cluster/ (a kubelet+containerd node with the agent).
// Both run the same cilium-agent v1.20.2, so talking to it, waiting for it and reading what it
// attached to a veth is one piece of code, not two copies that drift.
//
// It carries no build tag: `go vet ./e2e/peer/` checks it on its own, and each harness keeps
// only what differs between them (how a process is recorded, which netns, which policy source).
// Queries return wrapped errors so the caller decides between Fatal, Error and polling again.
package peer
