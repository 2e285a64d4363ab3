package peer

import "github.com/cilium/cilium/api/v1/models"

// RealizedRevision is the policy revision the endpoint has realized (0 before any).
func RealizedRevision(ep *models.Endpoint) int64 {
	if ep.Status == nil || ep.Status.Policy == nil || ep.Status.Policy.Realized == nil {
		return 0
	}
	return ep.Status.Policy.Realized.PolicyRevision
}

// StateOf is the endpoint's state, "?" when the agent reported none (so a message still shows it).
func StateOf(ep *models.Endpoint) string {
	if ep.Status == nil || ep.Status.State == nil {
		return "?"
	}
	return string(*ep.Status.State)
}
