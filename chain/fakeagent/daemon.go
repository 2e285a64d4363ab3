package fakeagent

import (
	"cmp"

	"github.com/cilium/cilium/api/v1/models"
)

// Daemon is the agent configuration the fake reports in GET /healthz and GET /config. The zero
// value of a field is replaced by what a correctly configured generic-veth chaining agent says.
type Daemon struct {
	ChainingMode         string // status "cni-chaining": generic-veth
	RoutingMode          string // config map "RoutingMode": native
	KubeProxyReplacement string // status "kube-proxy-replacement": False
	IPv4Masquerade       bool
	RouteMTUForChaining  bool
}

// SetDaemon sets what /healthz and /config report.
func (a *Agent) SetDaemon(d Daemon) { a.mu.Lock(); a.daemon = d; a.mu.Unlock() }

// identityFor stands in for the agent's allocation: labels get an identity of their own, none
// leave the endpoint at reserved:init (5), as the real agent does without Kubernetes.
func identityFor(labels models.Labels) *models.Identity {
	if len(labels) == 0 {
		return &models.Identity{ID: 5, Labels: models.Labels{"reserved:init"}}
	}
	return &models.Identity{ID: 10000 + int64(len(labels)), Labels: labels}
}

// statusResponse is GET /healthz's body; a.mu is held.
func (a *Agent) statusResponse() *models.StatusResponse {
	return &models.StatusResponse{
		Cilium:               &models.Status{State: a.health},
		CniChaining:          &models.CNIChainingStatus{Mode: cmp.Or(a.daemon.ChainingMode, "generic-veth")},
		KubeProxyReplacement: &models.KubeProxyReplacement{Mode: cmp.Or(a.daemon.KubeProxyReplacement, models.KubeProxyReplacementModeFalse)},
	}
}

// configuration is GET /config's body; a.mu is held.
func (a *Agent) configuration() *models.DaemonConfiguration {
	d := a.daemon
	return &models.DaemonConfiguration{Status: &models.DaemonConfigurationStatus{
		RouteMTU:                     a.routeMTU,
		EnableRouteMTUForCNIChaining: d.RouteMTUForChaining,
		Masquerade:                   d.IPv4Masquerade,
		MasqueradeProtocols:          &models.DaemonConfigurationStatusMasqueradeProtocols{IPv4: d.IPv4Masquerade},
		DaemonConfigurationMap:       map[string]any{"RoutingMode": cmp.Or(d.RoutingMode, "native")},
	}}
}
