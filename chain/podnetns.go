package chain

import (
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// podNetns is a netlink socket inside the pod's netns. A socket stays in the netns it was created in,
// so one netns entry (to create it) serves the veth discovery, the agent's MAC and the route MTU.
type podNetns struct {
	path string
	nl   netlinksafe.Handle
	// hereID is the id the pod netns gives the netns this plugin runs in: the IFLA_LINK_NETNSID a pod
	// veth whose peer lives here carries.
	hereID int
}

func openPodNetns(path string) (*podNetns, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: CNI_NETNS is empty", ErrInvalidEnv)
	}
	podNS, err := ns.GetNS(path)
	if err != nil {
		return nil, fmt.Errorf("%w: CNI_NETNS %q: %w", ErrInvalidEnv, path, err)
	}
	defer podNS.Close()
	p := &podNetns{path: path}
	err = podNS.Do(func(here ns.NetNS) error {
		var err error
		if p.nl, err = netlinksafe.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("netlink socket in netns %s: %w", path, err)
		}
		// Asked here, where this plugin's netns is at hand as an fd.
		if p.hereID, err = p.nl.GetNetNsIdByFd(int(here.Fd())); err != nil {
			return fmt.Errorf("%w: netns id of this netns as the pod sees it: %w", ErrPeerNotFound, err)
		}
		return nil
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *podNetns) Close() { p.nl.Close() }

// maxDumpAttempts is netlinksafe's bound on dumps interrupted by a concurrent change.
const maxDumpAttempts = 5

// addrList is netlinksafe's AddrList on the pod's socket (netlinksafe has no Handle form of it), except
// that a dump still interrupted after the last attempt is an error, not possibly inconsistent data.
func (p *podNetns) addrList(link netlink.Link) ([]netlink.Addr, error) {
	var addrs []netlink.Addr
	var err error
	for range maxDumpAttempts {
		if addrs, err = p.nl.AddrList(link, netlink.FAMILY_ALL); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return addrs, err
}

// setPodMAC sets the MAC the agent assigned on the pod interface.
func (p *podNetns) setPodMAC(ifname, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("%w: agent returned MAC %q: %w", ErrAgentFailed, mac, err)
	}
	link, err := p.nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrInterfaceMismatch, ifname, err)
	}
	if err := p.nl.LinkSetHardwareAddr(link, hw); err != nil {
		return fmt.Errorf("setting MAC %s on %q: %w", mac, ifname, err)
	}
	return nil
}

// setRouteMTU sets mtu on every main-table route in the pod netns, as upstream's generic-veth chainer
// does with the agent's route MTU (the agent knows the encapsulation overhead; the primary does not).
func (p *podNetns) setRouteMTU(mtu int) error {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := p.nl.RouteList(nil, family)
		if err != nil {
			return fmt.Errorf("listing routes: %w", err)
		}
		for _, rt := range routes {
			if rt.MTU == mtu || rt.Table != 254 { // main table only, as the primary set it up
				continue
			}
			rt.MTU = mtu
			if err := p.nl.RouteReplace(&rt); err != nil {
				return fmt.Errorf("setting MTU %d on route %s: %w", mtu, rt, err)
			}
		}
	}
	return nil
}
