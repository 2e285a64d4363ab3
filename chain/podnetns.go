package chain

import (
	"context"
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

// applyRouteMTU sets the agent's route MTU on every route in the pod netns, as upstream's
// enable-route-mtu does (the agent knows the encapsulation/overlay overhead; the primary plugin does not).
func (c *Call) applyRouteMTU(ctx context.Context) error {
	cfg, err := c.agent.Config(ctx)
	if err != nil {
		return fmt.Errorf("reading agent config for enable-route-mtu: %w", err)
	}
	if cfg == nil || cfg.Status == nil || cfg.Status.RouteMTU <= 0 {
		return fmt.Errorf("%w: enable-route-mtu: the agent reports no route MTU", ErrAgentFailed)
	}
	mtu := int(cfg.Status.RouteMTU)
	return ns.WithNetNSPath(c.Netns, func(ns.NetNS) error {
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
