//go:build cluster

package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// agentAPI is the shared agent client plus the lookups by pod this harness needs: its pods are
// known by sandbox ID and interface, which only the CNI attachment ID carries.
type agentAPI struct {
	*peer.AgentAPI
}

// endpointOf finds the agent's endpoint for a pod by its CNI attachment ID, "<sandbox ID>:<ifname>"
// (v1.20 reports no other external identifier). found is false when the agent has none.
func (a *agentAPI) endpointOf(p *pod) (ep *models.Endpoint, found bool, err error) {
	eps, err := a.Endpoints()
	if err != nil {
		return nil, false, err
	}
	for _, e := range eps {
		if e.Status == nil || e.Status.ExternalIdentifiers == nil {
			continue
		}
		if id := e.Status.ExternalIdentifiers.CniAttachmentID; id == p.cni.ContainerID+":"+p.cni.IfName || id == p.cni.ContainerID {
			return e, true, nil
		}
	}
	return nil, false, nil
}

// podEndpoints are the endpoints that belong to pods (not the host's own).
func (a *agentAPI) podEndpoints() ([]*models.Endpoint, error) {
	eps, err := a.Endpoints()
	if err != nil {
		return nil, err
	}
	var out []*models.Endpoint
	for _, e := range eps {
		if e.Status != nil && e.Status.ExternalIdentifiers != nil && e.Status.ExternalIdentifiers.CniAttachmentID != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

func identityLabels(ep *models.Endpoint) []string {
	if ep.Status == nil || ep.Status.Identity == nil {
		return nil
	}
	return ep.Status.Identity.Labels
}

func identityID(ep *models.Endpoint) int64 {
	if ep.Status == nil || ep.Status.Identity == nil {
		return 0
	}
	return ep.Status.Identity.ID
}

// checkK8sIdentity: the identity comes from the pod's Kubernetes labels (k8s:app=<app> and the
// namespace), not reserved:init.
func checkK8sIdentity(ep *models.Endpoint, app string) error {
	labels := identityLabels(ep)
	if slices.Contains(labels, "reserved:init") {
		return fmt.Errorf("identity %d is reserved:init", identityID(ep))
	}
	for _, want := range []string{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=default"} {
		if !slices.Contains(labels, want) {
			return fmt.Errorf("identity %d labels [%s] lack %s", identityID(ep), strings.Join(labels, " "), want)
		}
	}
	return nil
}
