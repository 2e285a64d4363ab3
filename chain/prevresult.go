package chain

import (
	"encoding/json"
	"fmt"
	"net"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
	"github.com/containernetworking/cni/pkg/version"
)

// attachment is what prevResult says about the pod's interface.
type attachment struct {
	// Index of the pod interface in Result.Interfaces, to patch its MAC.
	Index int
	Iface *current.Interface
	// IPs bound to the pod interface, link-local ones skipped.
	IPs []net.IPNet
	// HostIfaces are the interfaces prevResult lists outside the sandbox (bridge, host veth).
	HostIfaces []string
}

// prevResult parses the conf's prevResult into the current result type, whatever its version.
func prevResult(conf *Config) (*current.Result, error) {
	raw := conf.PrevResultJSON
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w: no prevResult: cilium-chain is a chained plugin and must follow a plugin that creates the pod's veth", ErrInvalidConfig)
	}
	prev, err := create.Create(conf.CNIVersion, raw)
	if err != nil {
		// libcni's own path, for what it accepts beyond that (a 0.3.x prevResult without cniVersion
		// gets the conf's) and for its error message.
		netConf := conf.NetConf
		if err := json.Unmarshal(raw, &netConf.RawPrevResult); err != nil {
			return nil, fmt.Errorf("%w: key \"prevResult\": %w", ErrInvalidConfig, err)
		}
		if err := version.ParsePrevResult(&netConf); err != nil {
			return nil, fmt.Errorf("%w: key \"prevResult\": %w", ErrInvalidConfig, err)
		}
		prev = netConf.PrevResult
	}
	res, err := current.NewResultFromResult(prev)
	if err != nil {
		return nil, fmt.Errorf("%w: key \"prevResult\": %w", ErrInvalidConfig, err)
	}
	return res, nil
}

// podAttachment picks the interface named ifname that lives in a sandbox. Never "the first veth":
// a pod may have several (Multus), and only the one this attachment made is ours.
func podAttachment(res *current.Result, ifname string) (*attachment, error) {
	att := &attachment{Index: -1}
	sandboxed := 0
	for i, iface := range res.Interfaces {
		if iface == nil {
			continue
		}
		if iface.Sandbox == "" {
			att.HostIfaces = append(att.HostIfaces, iface.Name)
			continue
		}
		sandboxed++
		if iface.Name == ifname {
			att.Index, att.Iface = i, iface
		}
	}
	if att.Iface == nil {
		return nil, fmt.Errorf("%w: prevResult has no interface %q with a sandbox", ErrInterfaceMismatch, ifname)
	}
	for _, ipc := range res.IPs {
		if ipc == nil {
			continue
		}
		// An address without an interface index belongs to the only sandbox interface, if there is one.
		bound := ipc.Interface == nil && sandboxed == 1
		if ipc.Interface != nil {
			bound = *ipc.Interface == att.Index
		}
		if !bound || ipc.Address.IP.IsLinkLocalUnicast() {
			continue
		}
		att.IPs = append(att.IPs, ipc.Address)
	}
	if len(att.IPs) == 0 {
		return nil, fmt.Errorf("%w: prevResult has no address for interface %q", ErrInterfaceMismatch, ifname)
	}
	return att, nil
}

// addressPair splits the attachment's IPs into the agent's one-IPv4, one-IPv6 shape.
func (a *attachment) addressPair() (v4, v6 string) {
	for _, ip := range a.IPs {
		switch {
		case ip.IP.To4() != nil && v4 == "":
			v4 = ip.IP.String()
		case ip.IP.To4() == nil && v6 == "":
			v6 = ip.IP.String()
		}
	}
	return v4, v6
}

func (a *attachment) hasIP(s string) bool {
	ip := net.ParseIP(s)
	for _, have := range a.IPs {
		if have.IP.Equal(ip) {
			return true
		}
	}
	return false
}
