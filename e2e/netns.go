//go:build e2e

package e2e

import (
	"fmt"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsName is a named network namespace under /var/run/netns, created by `ip netns add`.
type netnsName string

func (n netnsName) path() string { return "/var/run/netns/" + string(n) }

// addNetns creates a named netns with loopback up and deletes it in cleanup; deleting it also
// removes every link inside (veths, the cni0 bridge, cilium_host...).
func addNetns(t *testing.T, name netnsName) {
	t.Helper()
	mustRun(t, "ip", "netns", "add", string(name))
	t.Cleanup(func() { bestEffort(t, "ip", "netns", "del", string(name)) })
	mustRun(t, "ip", "-n", string(name), "link", "set", "lo", "up")
}

// inNetns runs fn on a locked OS thread switched into the netns; sockets created inside keep
// belonging to that netns after fn returns.
func inNetns(name netnsName, fn func() error) error {
	target, err := ns.GetNS(name.path())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer target.Close()
	return target.Do(func(ns.NetNS) error { return fn() })
}

// netlinkIn returns a netlink handle bound to the netns, without switching threads.
func netlinkIn(name netnsName) (*netlink.Handle, error) {
	h, err := netns.GetFromPath(name.path())
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return nl, nil
}
