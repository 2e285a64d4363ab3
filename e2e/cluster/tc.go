//go:build cluster

package cluster

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// tcProgramsOn reads the programs on a link of node 1's netns (the test runs in it).
func tcProgramsOn(link string) (peer.Programs, error) { return tcProgramsIn("", link) }

// tcPrograms reads the programs on a link of the node's netns.
func (n *node) tcPrograms(link string) (peer.Programs, error) {
	return tcProgramsIn(n.netnsPath(), link)
}

// tcProgramsIn: every caller expects the veth to be there, so a missing link is an error here.
func tcProgramsIn(nsPath, link string) (peer.Programs, error) {
	h, err := netlink.NewHandle()
	if nsPath != "" {
		ns, nerr := netns.GetFromPath(nsPath)
		if nerr != nil {
			return peer.Programs{}, fmt.Errorf("netns %s: %w", nsPath, nerr)
		}
		defer ns.Close()
		h, err = netlink.NewHandleAt(ns)
	}
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
