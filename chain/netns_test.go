package chain

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and veth pairs; run as root (CI does)")
	}
}

// node is a "node" netns (where the plugin runs) with pods in netns of their own.
type node struct {
	t  testing.TB
	ns ns.NetNS
}

func newNode(t testing.TB) *node {
	t.Helper()
	requireRoot(t)
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); _ = testutils.UnmountNS(n) })
	return &node{t: t, ns: n}
}

type pod struct {
	ns       ns.NetNS
	ifaces   []current.Interface // host veth, pod interface per attachment
	ips      []*current.IPConfig
	hostVeth map[string]string // pod ifname → host veth name
}

func (n *node) newPod() *pod {
	n.t.Helper()
	p, err := testutils.NewNS()
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { p.Close(); _ = testutils.UnmountNS(p) })
	return &pod{ns: p, hostVeth: map[string]string{}}
}

// attach makes a veth ifname in the pod with cidr on it and its peer in the node, like bridge/ptp do.
func (n *node) attach(p *pod, ifname, cidr string) {
	n.t.Helper()
	addr, err := netlink.ParseIPNet(cidr)
	if err != nil {
		n.t.Fatal(err)
	}
	err = p.ns.Do(func(ns.NetNS) error {
		hostIf, podIf, err := ip.SetupVeth(ifname, 1500, "", n.ns)
		if err != nil {
			return err
		}
		link, err := netlinksafe.LinkByName(ifname)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: addr}); err != nil {
			return err
		}
		gw := ip.NextIP(addr.IP.Mask(addr.Mask))
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: &net.IPNet{IP: gw, Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK}); err != nil {
			return err
		}
		p.ifaces = append(p.ifaces, current.Interface{Name: hostIf.Name, Mac: hostIf.HardwareAddr.String()},
			current.Interface{Name: podIf.Name, Mac: podIf.HardwareAddr.String(), Sandbox: p.ns.Path()})
		idx := len(p.ifaces) - 1
		p.ips = append(p.ips, &current.IPConfig{Address: *addr, Gateway: gw, Interface: &idx})
		p.hostVeth[ifname] = hostIf.Name
		return nil
	})
	if err != nil {
		n.t.Fatal(err)
	}
}

// prevResult is what the primary plugin would have returned for the pod.
func (p *pod) prevResult(cniVersion string) map[string]any {
	res := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	for i := range p.ifaces {
		res.Interfaces = append(res.Interfaces, &p.ifaces[i])
	}
	res.IPs = p.ips
	converted, err := res.GetAsVersion(cniVersion)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	b, _ := json.Marshal(converted)
	_ = json.Unmarshal(b, &m)
	return m
}

// podEnv is the usual start of a netns test: a fake agent, a node, and a pod with eth0 at 10.244.1.5/24.
func podEnv(t testing.TB) (*testEnv, *node, *pod) {
	t.Helper()
	env, n := newTestEnv(t), newNode(t)
	p := n.newPod()
	n.attach(p, "eth0", "10.244.1.5/24")
	return env, n, p
}

// run executes f in the node netns, where the plugin runs.
func (n *node) run(f func() error) error {
	return n.ns.Do(func(ns.NetNS) error { return f() })
}

func (n *node) hostLink(name string) netlink.Link {
	var link netlink.Link
	_ = n.run(func() error {
		var err error
		link, err = netlinksafe.LinkByName(name)
		return err
	})
	return link
}

func (p *pod) mac(ifname string) string {
	var mac string
	_ = p.ns.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(ifname)
		if err == nil {
			mac = l.Attrs().HardwareAddr.String()
		}
		return err
	})
	return mac
}

func addInNode(n *node, c *Call) (*current.Result, error) {
	var res *current.Result
	err := n.run(func() error {
		var err error
		res, err = c.Add(context.Background())
		return err
	})
	return res, err
}

func TestAddPeerIndexCollisionInAnotherNetns(t *testing.T) {
	// Pod A's host veth moves to another netns; in the node, a different pod B's host veth takes the
	// same ifindex, and B's eth0 has the same ifindex as A's (every fresh netns numbers from 1). The
	// index pair matches both ways; only IFLA_LINK_NETNSID tells them apart.
	env, n, a := podEnv(t)
	other, b := n.newPod(), n.newPod()
	host := n.hostLink(a.hostVeth["eth0"])
	hostIndex := host.Attrs().Index
	if err := n.run(func() error { return netlink.LinkSetNsFd(host, int(other.ns.Fd())) }); err != nil {
		t.Fatal(err)
	}
	err := n.run(func() error {
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vethcollide", Index: hostIndex},
			PeerName: "eth0", PeerNamespace: netlink.NsFd(int(b.ns.Fd()))})
	})
	if err != nil {
		t.Fatal(err)
	}
	var aIndex, bIndex int
	_ = a.ns.Do(func(ns.NetNS) error { l, _ := netlinksafe.LinkByName("eth0"); aIndex = l.Attrs().Index; return nil })
	_ = b.ns.Do(func(ns.NetNS) error { l, _ := netlinksafe.LinkByName("eth0"); bIndex = l.Attrs().Index; return nil })
	if aIndex != bIndex {
		t.Fatalf("setup: pod ifindexes %d and %d differ; the collision needs them equal", aIndex, bIndex)
	}
	// prevResult without host interfaces (ptp-style plugins may list none): no name to cross-check.
	prev := a.prevResult("1.0.0")
	prev["interfaces"] = prev["interfaces"].([]any)[1:]
	prev["ips"].([]any)[0].(map[string]any)["interface"] = 0
	_, err = addInNode(n, env.call(env.conf("1.0.0", map[string]any{"prevResult": prev}), "collide", a.ns.Path(), "eth0", ""))
	wantKind(t, err, ErrPeerNotFound, "another netns")
	if len(env.agent.Requests()) != 0 {
		t.Fatal("registered another pod's host veth")
	}
}
