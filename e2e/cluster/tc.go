//go:build cluster

package cluster

import (
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// tcProgramsOn reads the programs on a link of the node netns (the test runs in it). Every caller
// expects the veth to be there, so a missing link is an error here.
func tcProgramsOn(link string) (peer.Programs, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return peer.Programs{}, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	progs, exists, err := peer.ProgramsOn(h, link)
	if err == nil && !exists {
		err = fmt.Errorf("link %s: not found", link)
	}
	return progs, err
}
