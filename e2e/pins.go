//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
)

// endpointPins lists the per-endpoint BPF maps the agent pinned in its bpffs (policy map and tail
// call map, named <prefix><id:%05d>): the kernel-side state an endpoint deletion must release.
func endpointPins(bpffs string, id int64) []string {
	var out []string
	for _, prefix := range []string{"cilium_policy_v3_", "cilium_calls_"} {
		matches, _ := filepath.Glob(filepath.Join(bpffs, "tc", "globals", fmt.Sprintf("%s%05d", prefix, id)))
		out = append(out, matches...)
	}
	return out
}
