// Package bench measures cilium-chain side by side with upstream Cilium's cilium-cni v1.20.2 in
// generic-veth chaining (issue 5): ADD/DEL overhead through cnitool on the real Flannel chain, the cost
// of one plugin process, 100 parallel pods against a rate-limiting fake agent, and the share of an ADD
// spent outside the real agent's PUT. Everything runs in network namespaces of its own; `make bench`
// (cmd/ccbench, as root) writes bench/results.md and bench/results.png.
package bench
