package chain

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
)

// vethPair is the pod's veth and its host-side peer, as the kernel sees them.
type vethPair struct {
	PodName  string
	PodIndex int
	PodMAC   string
	PodAddrs []net.IPNet

	HostName  string
	HostIndex int
	HostMAC   string
}

// discoverVeth finds ifname in the pod netns and its peer in the netns this plugin runs in, then
// cross-checks both against prevResult.
func discoverVeth(pod *podNetns, ifname string, att *attachment) (*vethPair, error) {
	link, err := pod.nl.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%w: interface %q in netns %s: %w", ErrInterfaceMismatch, ifname, pod.path, err)
	}
	veth, ok := link.(*netlink.Veth)
	if !ok {
		return nil, fmt.Errorf("%w: interface %q is a %s, not a veth", ErrPeerNotFound, ifname, link.Type())
	}
	peerIndex, err := vethPeerIndex(veth)
	if err != nil {
		return nil, fmt.Errorf("%w: peer index of %q: %w", ErrPeerNotFound, ifname, err)
	}
	// Interface indexes repeat across netns: the index is only meaningful in the netns the peer
	// lives in, which IFLA_LINK_NETNSID names (as an id local to the pod netns).
	if peerNS := link.Attrs().NetNsID; peerNS < 0 || peerNS != pod.hereID {
		return nil, fmt.Errorf("%w: the peer of %q is in another netns (link netns id %d, this netns is %d)", ErrPeerNotFound, ifname, peerNS, pod.hereID)
	}
	addrs, err := pod.addrList(link)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %q: %w", ifname, err)
	}
	pair := &vethPair{PodName: ifname, PodIndex: link.Attrs().Index, PodMAC: link.Attrs().HardwareAddr.String()}
	for _, a := range addrs {
		pair.PodAddrs = append(pair.PodAddrs, *a.IPNet)
	}

	// A by-index lookup is not a dump, so it cannot be interrupted: plain netlink is safe here.
	host, err := netlink.LinkByIndex(peerIndex)
	if err != nil {
		return nil, fmt.Errorf("%w: no link with index %d (peer of %q) in this netns: %w", ErrPeerNotFound, peerIndex, ifname, err)
	}
	hostVeth, ok := host.(*netlink.Veth)
	if !ok {
		return nil, fmt.Errorf("%w: link %d (%s) is a %s, not the veth peer of %q", ErrPeerNotFound, peerIndex, host.Attrs().Name, host.Type(), ifname)
	}
	// Index collisions across netns are common: make sure this link really points back at the pod.
	if back, err := vethPeerIndex(hostVeth); err != nil || back != pair.PodIndex {
		return nil, fmt.Errorf("%w: link %d (%s) is not the peer of %q (its peer is %d)", ErrPeerNotFound, peerIndex, host.Attrs().Name, ifname, back)
	}
	pair.HostName, pair.HostIndex, pair.HostMAC = host.Attrs().Name, host.Attrs().Index, host.Attrs().HardwareAddr.String()
	return pair, pair.matches(att)
}

// matches cross-checks the kernel's view against prevResult: every prevResult address is on the pod
// interface, the MAC agrees, and the host veth is the one prevResult names (when it names host veths).
func (p *vethPair) matches(att *attachment) error {
	for _, want := range att.IPs {
		if !p.hasAddr(want.IP) {
			return fmt.Errorf("%w: address %s from prevResult is not on %q in the pod netns", ErrInterfaceMismatch, want.IP, p.PodName)
		}
	}
	if mac := att.Iface.Mac; mac != "" && !sameMAC(mac, p.PodMAC) {
		return fmt.Errorf("%w: prevResult MAC %s of %q differs from the kernel's %s", ErrInterfaceMismatch, mac, p.PodName, p.PodMAC)
	}
	if len(att.HostIfaces) > 0 && !contains(att.HostIfaces, p.HostName) {
		return fmt.Errorf("%w: host veth %q is not among prevResult's host interfaces %v", ErrInterfaceMismatch, p.HostName, att.HostIfaces)
	}
	return nil
}

// vethPeerIndex reads IFLA_LINK (kernels ≥ 4.1) and falls back to ethtool's peer_ifindex.
func vethPeerIndex(veth *netlink.Veth) (int, error) {
	if idx := veth.Attrs().ParentIndex; idx > 0 {
		return idx, nil
	}
	return netlink.VethPeerIndex(veth)
}

func (p *vethPair) hasAddr(ip net.IP) bool {
	for _, a := range p.PodAddrs {
		if a.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func sameMAC(a, b string) bool {
	ha, errA := net.ParseMAC(a)
	hb, errB := net.ParseMAC(b)
	return errA == nil && errB == nil && ha.String() == hb.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// netnsExists tells DEL whether a netns path still exists; a gone netns is normal on DEL.
func netnsExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
