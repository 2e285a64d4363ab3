package chain

import "errors"

// Error kinds. chain wraps every failure with one of these (fmt.Errorf("%w: …")); plugin/ is the one
// place that maps a kind to a CNI error code, so the codes live next to the CNI output and nowhere else.
var (
	// ErrDecode: stdin is not valid JSON.
	ErrDecode = errors.New("cannot decode network configuration")
	// ErrInvalidConfig: a key of the network configuration (or prevResult) is missing or invalid.
	ErrInvalidConfig = errors.New("invalid network configuration")
	// ErrInvalidEnv: a CNI_* variable (netns, ifname, container ID, CNI_ARGS) is missing or invalid.
	ErrInvalidEnv = errors.New("invalid CNI environment")
	// ErrAgentUnavailable: the agent could not be reached, or kept answering 429/503, until the deadline.
	ErrAgentUnavailable = errors.New("cilium agent unavailable")
	// ErrAgentRejected: the agent refused the request (4xx).
	ErrAgentRejected = errors.New("cilium agent rejected the request")
	// ErrAgentFailed: the agent failed the request (5xx) or answered something unexpected.
	ErrAgentFailed = errors.New("cilium agent failed the request")
	// ErrEndpointUnhealthy: CHECK found the endpoint in a failed state.
	ErrEndpointUnhealthy = errors.New("endpoint unhealthy")
	// ErrEndpointNotFound: CHECK found no endpoint for the attachment.
	ErrEndpointNotFound = errors.New("endpoint not found")
	// ErrInterfaceMismatch: prevResult and the kernel disagree (interface, address, MAC, host veth).
	ErrInterfaceMismatch = errors.New("interface does not match prevResult")
	// ErrPeerNotFound: the pod interface is not a veth, or its host-side peer cannot be found.
	ErrPeerNotFound = errors.New("host veth peer not found")
	// ErrDeleteFailed: DEL did not delete the endpoint: a live agent failed or was slow, or the agent
	// was unreachable and the deletion could not be queued. Retryable: the runtime retries DEL.
	ErrDeleteFailed = errors.New("endpoint deletion failed")
	// ErrStateDir: the state dir cannot be written (full, read-only): a node fault, not a config error.
	ErrStateDir = errors.New("state dir not writable")
	// ErrNotReady: STATUS found the agent absent or unhealthy.
	ErrNotReady = errors.New("cilium agent not ready")
)
