//go:build cluster

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step5DeleteOld — the pod ADDed under Flannel's conflist is DELeted through the new chain (the only
// config containerd uses now): its IP is released, nothing of it stays in libcni's cache, host-local's
// store or Flannel's data dir, and no IP is ever handed out twice (checked after every step).
func (s *scenario) step5DeleteOld(t *testing.T) {
	if first := confDirFiles(t); len(first) == 0 || first[0] != chainConflist {
		t.Fatalf("conf dir %v: the DEL would not go through %s", first, chainConflist)
	}
	p := s.old
	res, err := hostLocalReservations()
	if err != nil {
		t.Fatal(err)
	}
	if res[p.ip] != p.cni.ContainerID {
		t.Fatalf("host-local holds %s for %.12s, want the old pod's sandbox %.12s", p.ip, res[p.ip], p.cni.ContainerID)
	}
	flannelFile := filepath.Join(flannelDataDir, p.cni.ContainerID)
	if !peer.FileExists(flannelFile) {
		t.Errorf("Flannel's data file %s missing before the DEL", flannelFile)
	}
	s.tm.oldPodDelete = s.deletePod(t, p)

	// The plugin's own log shows it ran for the old sandbox: the DEL went through the chain.
	if !strings.Contains(readFile(s.pluginLog), p.cni.ContainerID) {
		t.Errorf("the plugin log %s never mentions the old sandbox %.12s: DEL did not go through cilium-chain", s.pluginLog, p.cni.ContainerID)
	} else {
		t.Logf("ok: the plugin ran DEL for the old sandbox %.12s:\n%s", p.cni.ContainerID, grepLines(readFile(s.pluginLog), p.cni.ContainerID))
	}
	res, err = hostLocalReservations()
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := res[p.ip]; ok {
		t.Errorf("host-local still reserves %s (for %.12s) after the DEL", p.ip, id)
	}
	for ip, id := range res {
		if id == p.cni.ContainerID {
			t.Errorf("host-local still reserves %s for the old sandbox", ip)
		}
	}
	if peer.FileExists(flannelFile) {
		t.Errorf("Flannel's data file %s leaked", flannelFile)
	}
	if _, err := netlink.LinkByName(p.cni.hostVeth()); err == nil {
		t.Errorf("the old pod's veth %s is still there", p.cni.hostVeth())
	}
	if err := checkIPAMConsistent(); err != nil {
		t.Errorf("IPAM: %v", err)
	}
	t.Logf("ok: old pod deleted in %s through the chain: IP %s released, no cache entry, reservation or Flannel file left",
		s.tm.oldPodDelete.Round(1e6), p.ip)
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return string(b)
}

func grepLines(text, needle string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, needle) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
