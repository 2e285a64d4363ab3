package main

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostVethPrograms says what the kernel (not the agent) has attached to a pod's host veth in this
// netns, the node's: tc filters by name (the agent with --enable-tcx=false, or an older kernel) and
// tcx programs by count (the default on newer kernels; naming them needs CAP_SYS_ADMIN). ok is false
// when nothing is attached in one direction.
func hostVethPrograms(name string) (summary string, ok bool, err error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return "", false, fmt.Errorf("host veth %s: %w", name, err)
	}
	var parts []string
	ok = true
	for _, dir := range []struct {
		name       string
		parent     uint32
		attachType uint32
	}{
		{"ingress", netlink.HANDLE_MIN_INGRESS, unix.BPF_TCX_INGRESS},
		{"egress", netlink.HANDLE_MIN_EGRESS, unix.BPF_TCX_EGRESS},
	} {
		var progs []string
		filters, err := netlink.FilterList(link, dir.parent)
		if err != nil {
			return "", false, fmt.Errorf("tc filters on %s: %w", name, err)
		}
		for _, f := range filters {
			if bpf, isBPF := f.(*netlink.BpfFilter); isBPF {
				progs = append(progs, bpf.Name)
			}
		}
		n, err := tcxProgramCount(link.Attrs().Index, dir.attachType)
		switch {
		case err != nil && len(progs) == 0:
			return "", false, fmt.Errorf("no tc filter on %s %s, and tcx cannot be queried: %w", name, dir.name, err)
		case n > 0:
			progs = append(progs, fmt.Sprintf("%d tcx program(s)", n))
		}
		if len(progs) == 0 {
			ok = false
			progs = []string{"none"}
		}
		parts = append(parts, dir.name+" "+strings.Join(progs, ","))
	}
	return strings.Join(parts, ", "), ok, nil
}

// tcxProgramCount is BPF_PROG_QUERY on an interface's tcx hook: how many programs are attached.
// A kernel without tcx answers EINVAL, which means none.
func tcxProgramCount(ifindex int, attachType uint32) (uint32, error) {
	// The leading fields of union bpf_attr for BPF_PROG_QUERY (include/uapi/linux/bpf.h).
	var attr struct {
		targetIfindex uint32
		attachType    uint32
		queryFlags    uint32
		attachFlags   uint32
		progIDs       uint64
		progCount     uint32
		_             uint32
		progAttach    uint64
		linkIDs       uint64
		linkAttach    uint64
		revision      uint64
	}
	attr.targetIfindex = uint32(ifindex)
	attr.attachType = attachType
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_QUERY, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	switch {
	case errno == 0:
		return attr.progCount, nil
	case errors.Is(errno, unix.EINVAL):
		return 0, nil
	default:
		return 0, errno
	}
}
