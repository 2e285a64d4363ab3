//go:build cluster && clusterbench

package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// burstVariant is one conflist of the bench: Flannel's alone, or ours (05-cilium.conflist, first in
// the conf dir) chaining a plugin after Flannel's entries.
type burstVariant struct {
	key      string // flag value and file names
	label    string
	chartKey string // bench's colour key
	plugin   string // the chained plugin's type; "" for Flannel alone
	entry    string // its conflist entry
}

var burstVariants = []burstVariant{
	{key: "flannel", label: "Flannel alone", chartKey: "a"},
	{key: "chain", label: "Flannel + cilium-chain", chartKey: "d", plugin: "cilium-chain", entry: `{"type": "cilium-chain"}`},
	{key: "upstream", label: "Flannel + upstream cilium-cni", chartKey: "c", plugin: "cilium-cni",
		entry: `{"type": "cilium-cni", "chaining-mode": "generic-veth"}`},
}

func pickBurstVariants(t *testing.T, keys string) []burstVariant {
	t.Helper()
	var out []burstVariant
	for _, k := range strings.Split(keys, ",") {
		i := slices.IndexFunc(burstVariants, func(v burstVariant) bool { return v.key == k })
		if i < 0 {
			t.Fatalf("-bench.variants: unknown %q (known: flannel, chain, upstream)", k)
		}
		out = append(out, burstVariants[i])
	}
	return out
}

// types are the plugin types a pod goes through under this variant.
func (v burstVariant) types() []string {
	if v.plugin == "" {
		return flannelChain
	}
	return append(slices.Clone(flannelChain), v.plugin)
}

// conflist is Flannel's conflist as the node holds it with v's entry appended: for cilium-chain
// what the installer writes with the manifest's defaults (name, version and entries kept, our
// {"type": "cilium-chain"} last), for upstream the entry Cilium's generic-veth chaining docs add
// after the primary's (cilium-cni refuses a prevResult without "chaining-mode"); the name is kept
// for both, so host-local's store and libcni's cache stay the same for all three.
func (v burstVariant) conflist(flannel []byte) ([]byte, error) {
	var list map[string]json.RawMessage
	if err := json.Unmarshal(flannel, &list); err != nil {
		return nil, fmt.Errorf("flannel conflist: %w", err)
	}
	var plugins []json.RawMessage
	if err := json.Unmarshal(list["plugins"], &plugins); err != nil {
		return nil, fmt.Errorf("flannel conflist plugins: %w", err)
	}
	plugins = append(plugins, json.RawMessage(v.entry))
	b, err := json.Marshal(plugins)
	if err != nil {
		return nil, err
	}
	list["plugins"] = b
	return json.MarshalIndent(list, "", "  ")
}

// install makes v the runtime's config: our file written by rename (never seen half-written) or
// removed. The caller proves containerd uses it with a probe pod.
func (v burstVariant) install(t *testing.T, flannel []byte) {
	t.Helper()
	path := filepath.Join(cniConfDir, chainConflist)
	if v.plugin == "" {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	b, err := v.conflist(flannel)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp" // not a config extension: libcni ignores it
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// probe creates one pod (the burst's labels, so its identity is the burst's) and waits until it
// came up through v's chain — with an agent endpoint when v chains a Cilium plugin — and deletes
// it. This proves containerd reloaded the conf dir, and warms identity and plugin caches alike for
// every variant.
func (c *cluster) probe(t *testing.T, v burstVariant, name string) {
	t.Helper()
	p := c.createPod(t, name, burstApp)
	if got := p.cni.pluginTypes(); !slices.Equal(got, v.types()) {
		c.deletePod(t, p)
		t.Fatalf("probe %s went through %v, want %v: containerd did not pick up the %s conflist", p, got, v.types(), v.key)
	}
	_, found, err := c.api.endpointOf(p)
	if err != nil || found != (v.plugin != "") {
		c.deletePod(t, p)
		t.Fatalf("probe %s under %s: endpoint found=%v (%v)", p, v.label, found, err)
	}
	c.deletePod(t, p)
}
