//go:build e2e

package e2e

import "github.com/cilium-chain/cilium-chain/e2e/peer"

// tcProgramsOn asks the kernel (netlink, not the agent) what is attached to link in the netns.
// exists is false when the link is gone.
func tcProgramsOn(nsName netnsName, link string) (progs peer.Programs, exists bool, err error) {
	h, err := netlinkIn(nsName)
	if err != nil {
		return progs, false, err
	}
	defer h.Close()
	return peer.ProgramsOn(h, link)
}
