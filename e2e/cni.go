//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// cniRunner drives cnitool inside the node netns, where the plugin finds the host veths.
type cniRunner struct {
	tl  tools
	n   *node
	env []string // extra environment for cnitool and the plugins (e.g. CILIUM_SOCK)
}

// cnitool runs `cnitool <cmd> cbr0 <pod netns>` with confDir as NETCONFPATH.
func (c *cniRunner) cnitool(confDir, cmd string, p *pod) cmdResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tool := peer.Cnitool{Bin: c.tl.bin("cnitool"), CNIPath: c.tl.cniPath(), NodeNS: c.n.ns.path(),
		Env: append([]string{"CNI_IFNAME=" + p.ifname}, c.env...)}
	res := tool.Run(ctx, confDir, cmd, netName, p.ns.path(), p.cniArgs())
	return cmdResult{Stdout: res.Stdout, Took: res.Took, Err: res.Err}
}

// add runs ADD, checks the printed result and records the pod's IP and host veth.
func (c *cniRunner) add(t *testing.T, confDir string, p *pod) time.Duration {
	t.Helper()
	res := c.cnitool(confDir, "add", p)
	if res.Err != nil {
		t.Fatalf("ADD %s: %v\nstdout: %s", p, res.Err, res.Stdout)
	}
	if err := p.takeResult(res.Stdout); err != nil {
		t.Fatalf("ADD %s printed an invalid result: %v\n%s", p, err, res.Stdout)
	}
	t.Logf("ADD %s (%s) → %s on host veth %s in %s", p, confDir[strings.LastIndex(confDir, "/")+1:], p.ip, p.hostVeth, res.Took.Round(time.Millisecond))
	return res.Took
}

// del runs DEL and fails the test if it does not succeed.
func (c *cniRunner) del(t *testing.T, confDir string, p *pod) time.Duration {
	t.Helper()
	res := c.cnitool(confDir, "del", p)
	if res.Err != nil {
		t.Fatalf("DEL %s: %v", p, res.Err)
	}
	return res.Took
}

// takeResult validates an ADD result the way a runtime would use it: it parses at its cniVersion,
// names eth0 in the pod's netns with an IPv4 address of the Flannel subnet, and names the host veth.
func (p *pod) takeResult(stdout []byte) error {
	raw, err := create.CreateFromBytes(stdout)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	conv, err := raw.GetAsVersion(current.ImplementedSpecVersion)
	if err != nil {
		return fmt.Errorf("convert %s result: %w", raw.Version(), err)
	}
	r := conv.(*current.Result)
	_, flannelNet, _ := net.ParseCIDR("10.244.1.0/24")
	sandbox, host := -1, ""
	for i, ifc := range r.Interfaces {
		switch {
		case ifc.Sandbox == p.ns.path() && ifc.Name == p.ifname:
			sandbox = i
		case ifc.Sandbox == "" && ifc.Name != "cni0":
			host = ifc.Name
		}
	}
	if sandbox < 0 {
		return fmt.Errorf("no interface %s with sandbox %s", p.ifname, p.ns.path())
	}
	if host == "" {
		return fmt.Errorf("no host veth among the interfaces")
	}
	for _, ip := range r.IPs {
		if ip.Interface != nil && *ip.Interface == sandbox && ip.Address.IP.To4() != nil && flannelNet.Contains(ip.Address.IP) {
			p.ip, p.hostVeth = ip.Address.IP, host
			return nil
		}
	}
	return fmt.Errorf("no IPv4 address in %s on %s", flannelNet, p.ifname)
}
