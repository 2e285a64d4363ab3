package chain

import (
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// setPodMAC sets the MAC the agent assigned on the pod interface.
func setPodMAC(netnsPath, ifname, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("%w: agent returned MAC %q: %w", ErrAgentFailed, mac, err)
	}
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		link, err := netlinksafe.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("%w: %q: %w", ErrInterfaceMismatch, ifname, err)
		}
		if err := netlink.LinkSetHardwareAddr(link, hw); err != nil {
			return fmt.Errorf("setting MAC %s on %q: %w", mac, ifname, err)
		}
		return nil
	})
}

// setRouteMTU sets mtu on every main-table route in the pod netns, as upstream's generic-veth chainer
// does with the agent's route MTU (the agent knows the encapsulation overhead; the primary does not).
func setRouteMTU(netnsPath string, mtu int) error {
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			routes, err := netlinksafe.RouteList(nil, family)
			if err != nil {
				return fmt.Errorf("listing routes: %w", err)
			}
			for _, rt := range routes {
				if rt.MTU == mtu || rt.Table != 254 { // main table only, as the primary set it up
					continue
				}
				rt.MTU = mtu
				if err := netlink.RouteReplace(&rt); err != nil {
					return fmt.Errorf("setting MTU %d on route %s: %w", mtu, rt, err)
				}
			}
		}
		return nil
	})
}
