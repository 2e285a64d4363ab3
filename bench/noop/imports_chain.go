//go:build importchain

package main

// Built with -tags importchain as cc-noop-imports: the no-op plus every package cilium-chain links,
// so make bench can tell the cost of those imports (init, page faults) from the cost of the ADD work.
import _ "github.com/cilium-chain/cilium-chain/chain"
