package chain

import (
	"github.com/cilium/cilium/api/v1/models"
)

// endpointID is how the agent addresses an endpoint by its CNI attachment.
func endpointID(containerID, ifname string) string {
	return "cni-attachment-id:" + containerID + ":" + ifname
}

// endpointRequest carries what upstream's generic-veth chainer carries, plus labels (upstream sends
// none, which leaves endpoints at reserved:init without Kubernetes) and the netns path.
func endpointRequest(c *Call, att *attachment, pair *vethPair, labels models.Labels) *models.EndpointChangeRequest {
	v4, v6 := att.addressPair()
	routing := false
	return &models.EndpointChangeRequest{
		Addressing:             &models.AddressPair{IPv4: v4, IPv6: v6},
		ContainerID:            c.ContainerID,
		ContainerInterfaceName: pair.PodName,
		ContainerNetnsPath:     c.Netns,
		State:                  models.EndpointStateWaitingDashForDashIdentity.Pointer(),
		HostMac:                pair.HostMAC,
		InterfaceIndex:         int64(pair.HostIndex),
		InterfaceName:          pair.HostName,
		Mac:                    pair.PodMAC,
		K8sPodName:             c.Args.PodName,
		K8sNamespace:           c.Args.PodNamespace,
		K8sUID:                 c.Args.PodUID,
		Labels:                 labels,
		SyncBuildEndpoint:      true,
		DatapathConfiguration: &models.EndpointDatapathConfiguration{
			// The primary plugin owns addressing and routing; the agent only attaches programs.
			RequireArpPassthrough: true,
			RequireEgressProg:     true,
			ExternalIpam:          true,
			RequireRouting:        &routing,
		},
		Properties: map[string]any{"cilium-chain/network": c.Conf.Name},
	}
}
