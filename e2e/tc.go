//go:build e2e

package e2e

import (
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// tcPrograms are the BPF programs the kernel has attached as tc filters on a link (the agent runs
// with --enable-tcx=false, so it attaches through clsact); names are the filters' program names.
type tcPrograms struct {
	ingress, egress []string
}

// tcProgramsOn asks the kernel (netlink, not the agent) what is attached to link in the netns.
// exists is false when the link is gone.
func tcProgramsOn(nsName netnsName, link string) (progs tcPrograms, exists bool, err error) {
	h, err := netlinkIn(nsName)
	if err != nil {
		return progs, false, err
	}
	defer h.Close()
	l, err := h.LinkByName(link)
	if err != nil {
		if _, ok := err.(netlink.LinkNotFoundError); ok {
			return progs, false, nil
		}
		return progs, false, fmt.Errorf("link %s: %w", link, err)
	}
	for _, dir := range []struct {
		parent uint32
		out    *[]string
	}{{netlink.HANDLE_MIN_INGRESS, &progs.ingress}, {netlink.HANDLE_MIN_EGRESS, &progs.egress}} {
		filters, err := h.FilterList(l, dir.parent)
		if err != nil {
			return progs, true, fmt.Errorf("filters on %s: %w", link, err)
		}
		for _, f := range filters {
			if bpf, ok := f.(*netlink.BpfFilter); ok {
				*dir.out = append(*dir.out, fmt.Sprintf("%s(id %d)", bpf.Name, bpf.Id))
			}
		}
	}
	return progs, true, nil
}

func hasProgram(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
