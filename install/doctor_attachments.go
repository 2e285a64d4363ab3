package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/cni/libcni"

	"github.com/cilium-chain/cilium-chain/chain"
)

const areaAttachment = "attachment"

// initIdentity is reserved:init, the identity of an endpoint whose labels the agent does not know
// yet; its policy drops the pod's traffic.
const initIdentity = 5

// checkAttachments judges every attachment libcni cached for the loaded network (one per pod the
// runtime added through it), then looks for endpoints of ours that no attachment explains.
func (d *doctor) checkAttachments(network string, eps []*models.Endpoint, agentUp bool) {
	all, err := d.cniConfig().GetCachedAttachments("")
	if err != nil {
		d.r.fail(areaAttachment, "libcni cache", fmt.Sprintf("cannot read %s: %v", filepath.Join(d.cfg.cniCacheDir, "results"), err), "")
		return
	}
	byAttachment := map[string]*models.Endpoint{}
	for _, ep := range eps {
		if id := attachmentOf(ep); id != "" {
			byAttachment[id] = ep
		}
	}
	cached := map[string]bool{}
	for _, a := range all {
		if a.Network != network {
			continue
		}
		key := a.ContainerID + ":" + a.IfName
		cached[key] = true
		if !agentUp {
			continue
		}
		d.judgeAttachment(a, byAttachment[key])
	}
	switch {
	case len(cached) == 0:
		d.r.ok(areaAttachment, "pods", fmt.Sprintf("no attachment of network %q in libcni's cache", network))
	case !agentUp:
		d.r.warn(areaAttachment, "pods", fmt.Sprintf("%d attachment(s) of network %q; their endpoints cannot be checked while the agent is unreachable", len(cached), network), "")
	}
	if agentUp {
		d.checkOrphans(network, cached, byAttachment)
	}
}

// attachmentOf is an endpoint's "<containerID>:<ifname>", empty for endpoints without one (the host).
func attachmentOf(ep *models.Endpoint) string {
	if ep.Status == nil || ep.Status.ExternalIdentifiers == nil {
		return ""
	}
	return ep.Status.ExternalIdentifiers.CniAttachmentID
}

// judgeAttachment: one line per pod, with every problem it has.
func (d *doctor) judgeAttachment(a *libcni.NetworkAttachment, ep *models.Endpoint) {
	name := podName(a)
	if ep == nil {
		d.r.fail(areaAttachment, name, fmt.Sprintf("no Cilium endpoint for attachment %s:%s: the pod is outside Cilium's policy", shortID(a.ContainerID), a.IfName),
			"it was added before cilium-chain was chained (or its ADD failed): recreate the pod, e.g. kubectl delete pod")
		return
	}
	var facts, problems, fixes []string
	facts = append(facts, "endpoint "+strconv.FormatInt(ep.ID, 10))
	state := endpointState(ep)
	switch models.EndpointState(state) {
	case models.EndpointStateReady:
	case models.EndpointStateRegenerating, models.EndpointStateWaitingDashToDashRegenerate, models.EndpointStateRestoring:
		facts = append(facts, "state "+state+" (passing: the agent is rebuilding its datapath)")
	default:
		problems = append(problems, "state "+state)
	}
	switch id := ep.Status.Identity; {
	case id == nil:
		problems = append(problems, "no identity")
	case id.ID == initIdentity || slices.Contains(id.Labels, "reserved:init"):
		problems = append(problems, "identity reserved:init (its policy drops the pod's traffic)")
		fixes = append(fixes, "give the plugin labels to send: Helm plugin.argsLabels / plugin.labels (CILIUM_CHAIN_PLUGIN_ARGS_LABELS), or run the agent with Kubernetes so it reads the pod's labels; then recreate the pod")
	default:
		facts = append(facts, fmt.Sprintf("identity %d", id.ID))
	}
	facts = append(facts, "policy "+policyEnforcement(ep))
	if ep.Status.Networking != nil && ep.Status.Networking.InterfaceName != "" {
		veth := ep.Status.Networking.InterfaceName
		progs, ok, err := hostVethPrograms(veth)
		switch {
		case err != nil:
			d.r.warn(areaAttachment, name, fmt.Sprintf("programs on %s unknown: %v", veth, err), "run doctor with CAP_NET_ADMIN (e.g. on the node as root) to read tcx attachments")
		case !ok:
			problems = append(problems, fmt.Sprintf("%s lacks programs (%s)", veth, progs))
			fixes = append(fixes, "the agent did not attach its datapath: see its log for this endpoint (cilium-dbg endpoint log "+strconv.FormatInt(ep.ID, 10)+")")
		default:
			facts = append(facts, veth+": "+progs)
		}
	}
	if len(problems) > 0 {
		d.r.fail(areaAttachment, name, strings.Join(append(problems, facts...), "; "), strings.Join(fixes, "; "))
		return
	}
	d.r.ok(areaAttachment, name, strings.Join(facts, "; "))
}

// checkOrphans: endpoints the plugin recorded as its own whose attachment the runtime no longer has.
// GC deletes them; until then they hold an IP in the agent's view and a policy slot.
func (d *doctor) checkOrphans(network string, cached map[string]bool, byAttachment map[string]*models.Endpoint) {
	recs, errs := chain.Attachments(d.cfg.stateDir, network)
	for _, err := range errs {
		d.r.warn(areaAttachment, "records", err.Error(), "")
	}
	orphans := 0
	for _, rec := range recs {
		key := rec.ContainerID + ":" + rec.IfName
		ep := byAttachment[key]
		if cached[key] || ep == nil {
			continue
		}
		orphans++
		d.r.fail(areaAttachment, "orphan endpoint", fmt.Sprintf("endpoint %d (%s) was registered by cilium-chain for %s but the runtime has no such attachment", ep.ID, chain.EndpointID(rec.ContainerID, rec.IfName), shortID(rec.ContainerID)),
			"the runtime's CNI GC removes it (containerd does on restart; or cnitool gc); by hand: cilium-dbg endpoint delete "+strconv.FormatInt(ep.ID, 10))
	}
	if orphans == 0 {
		d.r.ok(areaAttachment, "orphan endpoints", fmt.Sprintf("none (%d record(s) in %s)", len(recs), filepath.Join(d.cfg.stateDir, network)))
	}
}

// podName is namespace/name from the CNI_ARGS the runtime passed, else the container ID.
func podName(a *libcni.NetworkAttachment) string {
	var ns, name string
	for _, kv := range a.CniArgs {
		switch kv[0] {
		case "K8S_POD_NAMESPACE":
			ns = kv[1]
		case "K8S_POD_NAME":
			name = kv[1]
		}
	}
	if name == "" {
		return "container " + shortID(a.ContainerID)
	}
	if ns != "" {
		name = ns + "/" + name
	}
	return "pod " + name
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func endpointState(ep *models.Endpoint) string {
	if ep.Status == nil || ep.Status.State == nil {
		return "unknown"
	}
	return string(*ep.Status.State)
}

func policyEnforcement(ep *models.Endpoint) string {
	if p := ep.Status.Policy; p != nil && p.Realized != nil && p.Realized.PolicyEnabled != "" {
		return string(p.Realized.PolicyEnabled)
	}
	return "unknown"
}

const areaQueue = "delete queue"

// checkDeleteQueue: DELs that found the agent down leave files the agent reads only when it starts.
// One whose endpoint still exists is an endpoint that outlives its pod until the next agent start.
func (d *doctor) checkDeleteQueue(eps []*models.Endpoint, agentUp bool) {
	entries, err := os.ReadDir(d.cfg.deleteQueueDir)
	if os.IsNotExist(err) {
		d.r.ok(areaQueue, "queued deletions", "none ("+d.cfg.deleteQueueDir+" does not exist)")
		return
	}
	if err != nil {
		d.r.warn(areaQueue, "queued deletions", err.Error(), "")
		return
	}
	var queued []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".delete") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.cfg.deleteQueueDir, e.Name()))
		if err != nil {
			continue // drained meanwhile
		}
		queued = append(queued, strings.TrimSpace(string(data)))
	}
	switch {
	case len(queued) == 0:
		d.r.ok(areaQueue, "queued deletions", "none")
	case !agentUp:
		d.r.warn(areaQueue, "queued deletions", fmt.Sprintf("%d wait for the agent, which deletes them when it starts", len(queued)), "")
	default:
		var alive []string
		for _, q := range queued {
			if ep := findEndpoint(eps, q); ep != nil {
				alive = append(alive, fmt.Sprintf("%s (endpoint %d)", q, ep.ID))
			}
		}
		if len(alive) > 0 {
			d.r.fail(areaQueue, "queued deletions", fmt.Sprintf("%d queued deletion(s) of endpoints that still exist: %s; the agent only reads the queue when it starts", len(alive), strings.Join(alive, ", ")),
				"restart the agent on this node (it drains the queue first), or cilium-dbg endpoint delete <id>")
			return
		}
		d.r.warn(areaQueue, "queued deletions", fmt.Sprintf("%d stale entr(ies) whose endpoints are gone; the agent removes them when it next starts", len(queued)), "")
	}
}

// findEndpoint resolves a queue entry: an endpoint ID in any form the agent accepts (numeric,
// cni-attachment-id:, container-id:). Batch requests (JSON) are not resolved.
func findEndpoint(eps []*models.Endpoint, id string) *models.Endpoint {
	prefix, value, _ := strings.Cut(id, ":")
	for _, ep := range eps {
		switch {
		case strconv.FormatInt(ep.ID, 10) == id,
			prefix == "cni-attachment-id" && attachmentOf(ep) == value,
			prefix == "container-id" && ep.Status != nil && ep.Status.ExternalIdentifiers != nil && ep.Status.ExternalIdentifiers.ContainerID == value:
			return ep
		}
	}
	return nil
}
