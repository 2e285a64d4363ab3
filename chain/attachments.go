package chain

import "time"

// Attachment is one endpoint this plugin registered for a network, as its record in the state dir
// tells it. Tools outside the plugin (cilium-chain-install doctor) read the records through this.
type Attachment struct {
	ContainerID string
	IfName      string
	// State is "adding" while the ADD that wrote it may still run, "added" after.
	State   string
	Updated time.Time
}

// Attachments lists the attachments the plugin recorded for network under stateDir (its
// "state-dir"), with the records it could not read.
func Attachments(stateDir, network string) ([]Attachment, []error) {
	recs, errs := newAttachmentStore(stateDir, network).list()
	out := make([]Attachment, 0, len(recs))
	for _, r := range recs {
		out = append(out, Attachment{ContainerID: r.ContainerID, IfName: r.IfName, State: r.State, Updated: r.Updated})
	}
	return out, errs
}

// EndpointID is the ID under which the agent knows an attachment's endpoint.
func EndpointID(containerID, ifname string) string { return endpointID(containerID, ifname) }
