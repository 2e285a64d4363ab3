package chain

import (
	"path/filepath"

	"github.com/cilium/cilium/api/v1/models"
)

// agentNetnsDir is where the agent's container sees the host's /var/run/netns (upstream's
// defaults.NetNsPath; cilium-cni sends <dir>/<base of CNI_NETNS>).
const agentNetnsDir = "/var/run/cilium/netns"

// primaryIfName is the pod's main interface; any other attachment (Multus' net1…) is secondary, which
// tells the agent to keep its CiliumEndpoint and pod-level settings apart from the primary one.
const primaryIfName = "eth0"

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
		ContainerNetnsPath:     filepath.Join(agentNetnsDir, filepath.Base(c.Netns)),
		IsSecondaryInterface:   c.IfName != primaryIfName,
		State:                  models.EndpointStateWaitingDashForDashIdentity.Pointer(),
		HostMac:                pair.HostMAC,
		InterfaceIndex:         int64(pair.HostIndex),
		InterfaceName:          pair.HostName,
		Mac:                    pair.PodMAC,
		K8sPodName:             c.Args.PodName,
		K8sNamespace:           c.Args.PodNamespace,
		K8sUID:                 c.Args.PodUID,
		Labels:                 labels,
		// Not a synchronous build: the agent's endpoint-create limiter adjusts its rate and
		// parallelism to how long a create takes (pkg/rate/api_limiter.go), so a create that holds its
		// slot through the first regeneration slows every create of a pod burst. register waits for
		// that regeneration itself (Agent.WaitRegenerated).
		SyncBuildEndpoint: false,
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
