package chain

import (
	"errors"
	"fmt"
	"os"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"
)

// hostSideVeth finds a running pod's veth from the node's netns alone, for adoption: the one host
// interface of prevResult that is a veth whose peer lives in the pod's netns, with the MAC prevResult
// recorded for it. The pod side (name, MAC, addresses) is taken from prevResult: reading it from the
// kernel would mean entering the pod's netns, i.e. CAP_SYS_ADMIN for the installer. Anything that
// does not match is an error, never a guess.
func hostSideVeth(netnsPath string, res *current.Result, att *attachment) (*vethPair, error) {
	if att.Iface.Mac == "" {
		return nil, fmt.Errorf("%w: prevResult records no MAC for %q", ErrInterfaceMismatch, att.Iface.Name)
	}
	type candidate struct {
		iface *current.Interface
		link  *netlink.Veth
	}
	var found []candidate
	var gone []string
	for _, iface := range res.Interfaces {
		if iface == nil || iface.Sandbox != "" {
			continue
		}
		link, err := netlinksafe.LinkByName(iface.Name)
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			gone = append(gone, iface.Name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("looking up host interface %q: %w", iface.Name, err)
		}
		if veth, ok := link.(*netlink.Veth); ok {
			found = append(found, candidate{iface, veth})
		}
	}
	if len(found) == 0 && len(gone) > 0 {
		return nil, fmt.Errorf("%w: host interface(s) %v of prevResult are gone", ErrPeerNotFound, gone)
	}
	// After the lookups: reading a veth whose peer is in another netns is what gives that netns an ID.
	nsid, err := netnsID(netnsPath)
	if err != nil {
		return nil, err
	}
	var into []candidate
	for _, c := range found {
		if nsid >= 0 && c.link.Attrs().NetNsID == nsid {
			into = append(into, c)
		}
	}
	switch {
	case len(into) == 0 && len(gone) > 0:
		return nil, fmt.Errorf("%w: host interface(s) %v of prevResult are gone", ErrPeerNotFound, gone)
	case len(into) == 0:
		return nil, fmt.Errorf("%w: no host interface of prevResult %v is a veth into netns %s", ErrPeerNotFound, att.HostIfaces, netnsPath)
	case len(into) > 1:
		return nil, fmt.Errorf("%w: %d host veths of prevResult lead into netns %s; which one is %q cannot be told from the node", ErrPeerNotFound, len(into), netnsPath, att.Iface.Name)
	}
	c := into[0]
	attrs := c.link.Attrs()
	if c.iface.Mac != "" && !sameMAC(c.iface.Mac, attrs.HardwareAddr.String()) {
		return nil, fmt.Errorf("%w: host veth %q has MAC %s, prevResult recorded %s", ErrInterfaceMismatch, attrs.Name, attrs.HardwareAddr, c.iface.Mac)
	}
	if attrs.ParentIndex <= 0 {
		return nil, fmt.Errorf("%w: host veth %q reports no peer index", ErrPeerNotFound, attrs.Name)
	}
	return &vethPair{
		PodName: att.Iface.Name, PodIndex: attrs.ParentIndex, PodMAC: att.Iface.Mac, PodAddrs: att.IPs,
		HostName: attrs.Name, HostIndex: attrs.Index, HostMAC: attrs.HardwareAddr.String(),
	}, nil
}

// netnsID is the ID the node's netns has for the netns at path (-1: none, so no veth of ours leads
// there). Asking needs no capability, unlike entering it.
func netnsID(path string) (int, error) {
	if path == "" {
		return -1, fmt.Errorf("%w: no netns for the attachment", ErrInvalidEnv)
	}
	f, err := os.Open(path)
	if err != nil {
		return -1, fmt.Errorf("%w: pod netns: %w", ErrPeerNotFound, err)
	}
	defer f.Close()
	id, err := netlink.GetNetNsIdByFd(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("%w: %s is not a network namespace: %w", ErrPeerNotFound, path, err)
	}
	return id, nil
}
