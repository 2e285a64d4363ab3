package bench

import "path/filepath"

// Plugin types in BinDir.
const (
	noopType = "cc-noop"
	// noopImportsType is the no-op linked with cilium-chain's packages (bench/noop, tag importchain).
	noopImportsType = "cc-noop-imports"
	upstreamType    = "cilium-cni"
	chainType       = "cilium-chain"
)

// variant is one way to run the Flannel chain: with no chained plugin or with one of three.
type variant struct {
	Key   string // a, b, c, d
	Label string
	Type  string // "" for Flannel alone
	// entry is the chained conflist entry; extra keys (add-timeout…) are merged in by withKeys.
	entry map[string]any
}

func (v variant) withKeys(extra map[string]any) map[string]any {
	if v.entry == nil {
		return nil
	}
	m := map[string]any{}
	for k, x := range v.entry {
		m[k] = x
	}
	for k, x := range extra {
		m[k] = x
	}
	return m
}

// variants are the rows of the cnitool table: Flannel alone, the no-op, the no-op linked with
// cilium-chain's packages (bi: the floor of any plugin that links the mandated API client), upstream,
// cilium-chain. Both Cilium plugins use the entry upstream documents for generic-veth and
// find the agent through CILIUM_SOCK; cilium-chain keeps its attachment records in stateDir, a tmpfs
// the bench mounts because its default /var/run/cilium-chain is on tmpfs on a node but not on every
// bench machine, and gets its deletion queue moved into the run dir (the default is the real agent's).
// Logging stays at each plugin's default.
func variants(runDir, stateDir string) []variant {
	return []variant{
		{Key: "a", Label: "Flannel alone"},
		{Key: "b", Label: "no-op chained", Type: noopType, entry: map[string]any{"type": noopType}},
		{Key: "bi", Label: "no-op + cilium-chain's imports", Type: noopImportsType, entry: map[string]any{"type": noopImportsType}},
		{Key: "c", Label: "upstream cilium-cni", Type: upstreamType, entry: map[string]any{"type": upstreamType, "chaining-mode": "generic-veth"}},
		{Key: "d", Label: "cilium-chain", Type: chainType, entry: map[string]any{
			"type": chainType, "chaining-mode": "generic-veth",
			"state-dir":        stateDir,
			"delete-queue-dir": filepath.Join(runDir, "chain-queue"),
		}},
	}
}

// procExtras join the chained variants in the process figures only, to split cilium-chain's cost: its
// ADD with the attachment store on disk (diskDir) instead of on the tmpfs where (d) keeps it.
func procExtras(diskDir string) []variant {
	return []variant{
		{Key: "dd", Label: "cilium-chain, state-dir on disk", Type: chainType, entry: map[string]any{
			"type": chainType, "chaining-mode": "generic-veth",
			"state-dir":        filepath.Join(diskDir, "chain-state"),
			"delete-queue-dir": filepath.Join(diskDir, "chain-queue"),
		}},
	}
}

// byKey is the variant with that key; the tables and scenarios name their rows by key, not position.
func byKey(vs []variant, key string) variant {
	for _, v := range vs {
		if v.Key == key {
			return v
		}
	}
	panic("bench: no variant " + key) // a typo in this package, caught by every run
}
