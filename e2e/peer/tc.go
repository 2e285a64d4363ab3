package peer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// Programs are the BPF programs the kernel has attached as tc filters on a link, as "name(id N)".
// Both harnesses run the agent with --enable-tcx=false, so it attaches through clsact and
// `tc filter show dev <veth> ingress|egress` shows the same.
type Programs struct {
	Ingress, Egress []string
}

func (p Programs) String() string {
	return fmt.Sprintf("ingress [%s] egress [%s]", strings.Join(p.Ingress, " "), strings.Join(p.Egress, " "))
}

// ProgramsOn asks the kernel (netlink, not the agent) what is attached to link; h picks the netns.
// exists is false when the link is gone, which for a deleted pod is the expected answer.
func ProgramsOn(h *netlink.Handle, link string) (progs Programs, exists bool, err error) {
	l, err := h.LinkByName(link)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return progs, false, nil
		}
		return progs, false, fmt.Errorf("link %s: %w", link, err)
	}
	for _, dir := range []struct {
		parent uint32
		out    *[]string
	}{{netlink.HANDLE_MIN_INGRESS, &progs.Ingress}, {netlink.HANDLE_MIN_EGRESS, &progs.Egress}} {
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

// HasProgram reports whether one of names is the program prefix (the agent's names carry suffixes).
func HasProgram(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
