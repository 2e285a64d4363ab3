//go:build cluster

package cluster

import (
	"net/netip"
	"os"
	"slices"
	"testing"
)

// step1OldPod — the cluster runs on Flannel's plain conflist (0.3.1, cbr0) and a pod started now gets
// its IP through Flannel alone.
func (s *scenario) step1OldPod(t *testing.T) {
	files := confDirFiles(t)
	if !slices.Equal(files, []string{flannelConflist}) {
		t.Fatalf("conf dir holds %v, want only %s", files, flannelConflist)
	}
	// app: test, so the seed's CNPs select it once it is adopted (step 4b).
	s.old = s.createPod(t, "old", "test")
	s.tm.oldPodReady = s.old.ready
	if got := s.old.cni.pluginTypes(); !slices.Equal(got, []string{"flannel"}) {
		t.Errorf("old pod was added through %v, want [flannel]", got)
	}
	if s.old.cni.NetworkName != networkName {
		t.Errorf("old pod's network is %q, want %q", s.old.cni.NetworkName, networkName)
	}
	prefix := netip.MustParsePrefix(s.podCIDR)
	if ip, err := netip.ParseAddr(s.old.ip); err != nil || !prefix.Contains(ip) {
		t.Errorf("old pod IP %s is not in the node's podCIDR %s", s.old.ip, s.podCIDR)
	}
	if err := checkIPAMConsistent(); err != nil {
		t.Errorf("IPAM: %v", err)
	}
	t.Logf("ok: old pod %s got %s from Flannel (bridge + host-local) alone", s.old, s.old.ip)
}

// confDirFiles are the names in the node's CNI conf dir, sorted.
func confDirFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(cniConfDir)
	if err != nil {
		t.Fatalf("conf dir: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
