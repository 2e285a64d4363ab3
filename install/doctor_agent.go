package main

import (
	"context"
	"fmt"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/cni/libcni"
)

const areaAgent = "agent"

// What generic-veth chaining needs from the agent, as the agent reports it. Chaining mode and
// kube-proxy replacement are in GET /healthz's status (GET /config's map does not carry them in
// v1.20); routing, masquerading and the route MTU flag in GET /config.
const (
	wantChainingMode = "generic-veth"
	wantRoutingMode  = "native"
)

// checkAgent asks the agent for its health, configuration and endpoints. agentUp is false when it
// could not be asked, and the endpoint checks then say so instead of guessing.
func (d *doctor) checkAgent(ctx context.Context, loaded *loadedConflist) (eps []*models.Endpoint, agentUp bool) {
	sock := d.cfg.agentSocket
	hctx, cancel := d.ctxFor(ctx)
	defer cancel()
	status, err := d.agent.Healthz(hctx)
	if err != nil {
		d.r.fail(areaAgent, "reachable", fmt.Sprintf("no answer on %s: %v: pod ADDs fail, DELs are queued", sock, err),
			"is cilium-agent running on this node (kubectl -n kube-system get pods -l k8s-app=cilium -o wide)? the socket is its --socket-path, mounted from the host's /var/run/cilium")
		return nil, false
	}
	d.r.ok(areaAgent, "reachable", "answers on "+sock)
	if st := status.Cilium; st == nil || st.State != models.StatusStateOk {
		d.r.fail(areaAgent, "healthy", fmt.Sprintf("agent state %s", describeStatus(st)), "see the agent's log (kubectl -n kube-system logs ds/cilium)")
	} else {
		d.r.ok(areaAgent, "healthy", "state Ok")
	}
	d.checkChainingMode(status)
	d.checkKubeProxyReplacement(status)

	cctx, cancel := d.ctxFor(ctx)
	defer cancel()
	cfg, err := d.agent.Config(cctx)
	if err != nil || cfg.Status == nil {
		d.r.fail(areaAgent, "configuration", fmt.Sprintf("GET /config failed: %v", err), "")
	} else {
		d.checkRouting(cfg.Status)
		d.checkMasquerade(cfg.Status)
		d.checkRouteMTU(cfg.Status, loaded)
	}

	ectx, cancel := d.ctxFor(ctx)
	defer cancel()
	eps, err = d.agent.ListEndpoints(ectx)
	if err != nil {
		d.r.fail(areaAgent, "endpoints", fmt.Sprintf("GET /endpoint failed: %v", err), "")
		return nil, false
	}
	return eps, true
}

func describeStatus(st *models.Status) string {
	if st == nil {
		return "unknown (no status)"
	}
	if st.Msg != "" {
		return st.State + ": " + st.Msg
	}
	return st.State
}

func (d *doctor) checkChainingMode(s *models.StatusResponse) {
	const fix = "Cilium Helm values: --set cni.chainingMode=generic-veth (and cni.exclusive=false, so Cilium leaves the other CNI configs alone)"
	switch {
	case s.CniChaining == nil:
		d.r.warn(areaAgent, "chaining mode", "the agent does not report its CNI chaining mode", fix)
	case s.CniChaining.Mode != wantChainingMode:
		d.r.fail(areaAgent, "chaining mode", fmt.Sprintf("%q, not %q: the agent does not attach to the primary's veths the way cilium-chain registers them", s.CniChaining.Mode, wantChainingMode), fix)
	default:
		d.r.ok(areaAgent, "chaining mode", wantChainingMode)
	}
}

// checkKubeProxyReplacement only informs: both states work with chaining, but with replacement on
// kube-proxy must be gone and Cilium must reach the API server without Services.
func (d *doctor) checkKubeProxyReplacement(s *models.StatusResponse) {
	if s.KubeProxyReplacement == nil {
		d.r.ok(areaAgent, "kube-proxy replacement", "not reported")
		return
	}
	switch s.KubeProxyReplacement.Mode {
	case models.KubeProxyReplacementModeTrue:
		d.r.ok(areaAgent, "kube-proxy replacement", "on: Cilium serves Services in eBPF (kube-proxy must not run; Helm kubeProxyReplacement=true needs k8sServiceHost/k8sServicePort)")
	default:
		d.r.ok(areaAgent, "kube-proxy replacement", fmt.Sprintf("%s: kube-proxy keeps serving Services", s.KubeProxyReplacement.Mode))
	}
}

func (d *doctor) checkRouting(s *models.DaemonConfigurationStatus) {
	mode, _ := s.DaemonConfigurationMap["RoutingMode"].(string)
	switch mode {
	case wantRoutingMode:
		d.r.ok(areaAgent, "routing mode", wantRoutingMode+": the primary CNI routes between nodes")
	case "":
		d.r.warn(areaAgent, "routing mode", "the agent does not report RoutingMode", "")
	default:
		d.r.fail(areaAgent, "routing mode", fmt.Sprintf("%q: the agent encapsulates pod traffic between nodes, on top of what the primary CNI already routes", mode),
			"Cilium Helm values: --set routingMode=native --set ipv4NativeRoutingCIDR=<the cluster's pod CIDR>")
	}
}

func (d *doctor) checkMasquerade(s *models.DaemonConfigurationStatus) {
	v4, v6 := false, false
	if p := s.MasqueradeProtocols; p != nil {
		v4, v6 = p.IPv4, p.IPv6
	}
	if !v4 && !v6 && !s.Masquerade {
		d.r.ok(areaAgent, "masquerade", "off: the primary CNI masquerades")
		return
	}
	d.r.fail(areaAgent, "masquerade", fmt.Sprintf("on (IPv4 %t, IPv6 %t): pod traffic is masqueraded twice or by the wrong node address", v4, v6),
		"Cilium Helm values: --set enableIPv4Masquerade=false --set enableIPv6Masquerade=false")
}

// checkRouteMTU compares the agent's route MTU flag with our entry's enable-route-mtu: with the flag
// on the agent expects the chained plugin to set the pod's route MTU.
func (d *doctor) checkRouteMTU(s *models.DaemonConfigurationStatus, loaded *loadedConflist) {
	ours := loaded != nil && entryEnablesRouteMTU(loaded.NetworkConfigList)
	switch {
	case s.EnableRouteMTUForCNIChaining && !ours:
		d.r.warn(areaAgent, "route MTU", fmt.Sprintf("the agent has enable-route-mtu-for-cni-chaining on (route MTU %d) but the %s entry does not set enable-route-mtu: pod routes keep the primary's MTU", s.RouteMTU, pluginType),
			`set the plugin option (Helm plugin.extraJSON='{"enable-route-mtu": true}'), or Cilium Helm cni.enableRouteMTUForCNIChaining=false`)
	case s.EnableRouteMTUForCNIChaining:
		d.r.ok(areaAgent, "route MTU", fmt.Sprintf("on in the agent and the plugin: pod routes get MTU %d", s.RouteMTU))
	default:
		d.r.ok(areaAgent, "route MTU", fmt.Sprintf("enable-route-mtu-for-cni-chaining off (route MTU %d); pods keep the primary's MTU", s.RouteMTU))
	}
}

// entryEnablesRouteMTU: our entry, parsed by the plugin's own parser, sets enable-route-mtu.
func entryEnablesRouteMTU(l *libcni.NetworkConfigList) bool {
	confs, err := ourEntries(l)
	return err == nil && len(confs) > 0 && confs[0].EnableRouteMTU
}
