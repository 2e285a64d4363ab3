//go:build cluster

package cluster

import (
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// tcPrograms are the BPF programs the kernel has attached as tc filters on a link of the node netns
// (the test runs in it). The agent runs with --enable-tcx=false, so it attaches through clsact, and
// `tc filter show dev <veth> ingress|egress` shows the same.
type tcPrograms struct {
	ingress, egress []string
}

func (p tcPrograms) String() string {
	return fmt.Sprintf("ingress [%s] egress [%s]", strings.Join(p.ingress, " "), strings.Join(p.egress, " "))
}

func tcProgramsOn(link string) (tcPrograms, error) {
	var progs tcPrograms
	l, err := netlink.LinkByName(link)
	if err != nil {
		return progs, fmt.Errorf("link %s: %w", link, err)
	}
	for _, dir := range []struct {
		parent uint32
		out    *[]string
	}{{netlink.HANDLE_MIN_INGRESS, &progs.ingress}, {netlink.HANDLE_MIN_EGRESS, &progs.egress}} {
		filters, err := netlink.FilterList(l, dir.parent)
		if err != nil {
			return progs, fmt.Errorf("filters on %s: %w", link, err)
		}
		for _, f := range filters {
			if bpf, ok := f.(*netlink.BpfFilter); ok {
				*dir.out = append(*dir.out, bpf.Name)
			}
		}
	}
	return progs, nil
}

func hasProgram(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
