package fakeagent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/cilium/api/v1/models"
)

func (a *Agent) route(w http.ResponseWriter, r *http.Request, body []byte, delay time.Duration) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	if r.Method != http.MethodPut && r.Method != http.MethodDelete && !sleepCtx(r.Context(), delay) {
		return // a late answer nobody waits for
	}
	switch {
	case r.Method == http.MethodGet && path == "/healthz":
		a.mu.Lock()
		status := a.statusResponse()
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, status)
	case r.Method == http.MethodGet && path == "/config":
		a.mu.Lock()
		cfg := a.configuration()
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, cfg)
	case r.Method == http.MethodGet && path == "/endpoint":
		writeJSON(w, http.StatusOK, a.Endpoints())
	case strings.HasPrefix(path, "/endpoint/"):
		a.endpointRoute(w, r, strings.TrimPrefix(path, "/endpoint/"), body, delay)
	default:
		writeJSON(w, http.StatusNotFound, models.Error("no route "+r.Method+" "+r.URL.Path))
	}
}

func (a *Agent) endpointRoute(w http.ResponseWriter, r *http.Request, rest string, body []byte, delay time.Duration) {
	id, sub, _ := strings.Cut(rest, "/")
	switch {
	case r.Method == http.MethodPut && sub == "":
		a.put(w, r, id, body, delay)
	case r.Method == http.MethodDelete && sub == "":
		a.del(w, r, id, delay)
	case r.Method == http.MethodGet && (sub == "" || sub == "healthz"):
		a.mu.Lock()
		var b []byte
		if ep := a.lookup(id); ep != nil && sub == "healthz" {
			b, _ = json.Marshal(ep.Status.Health)
		} else if ep != nil {
			b, _ = json.Marshal(ep)
		}
		a.mu.Unlock()
		if b == nil {
			writeJSON(w, http.StatusNotFound, models.Error("endpoint not found"))
			return
		}
		writeRaw(w, http.StatusOK, b)
	default:
		writeJSON(w, http.StatusNotFound, models.Error("no route "+r.Method+" "+r.URL.Path))
	}
}

// del is DELETE /endpoint/{id} as EndpointDeleteEndpointIDHandler.Handle
// (pkg/endpoint/api/endpoint_api_handler.go) serves it: wait while restoring; an endpoint that is not
// there is answered 404 at once (the agent bypasses its limiter for those); else wait for a slot of the
// endpoint-delete limiter and delete. The deletion (endpointAPIManager.DeleteEndpoint) gets no request
// context: once it started it completes, whether or not the client still waits for the answer.
func (a *Agent) del(w http.ResponseWriter, r *http.Request, id string, work time.Duration) {
	if !a.waitRestored(w, r.Context()) {
		return
	}
	if a.Endpoint(id) == nil {
		writeJSON(w, http.StatusNotFound, models.Error("endpoint not found"))
		return
	}
	release, ok := a.deleteSlot(w, r.Context())
	if !ok {
		return
	}
	defer release()
	time.Sleep(work)
	a.mu.Lock()
	ep := a.lookup(id)
	if ep != nil {
		delete(a.endpoints, ep.ID)
	}
	a.mu.Unlock()
	if ep == nil { // deleted by a concurrent request meanwhile
		writeJSON(w, http.StatusNotFound, models.Error("endpoint not found"))
		return
	}
	writeJSON(w, http.StatusOK, nil)
}

// put is PUT /endpoint/{id} as EndpointPutEndpointIDHandler.Handle and endpointAPIManager.CreateEndpoint
// (pkg/endpoint/api/endpoint_api_handler.go, endpoint_api_manager.go) serve it, in their order: wait
// while restoring (503), the endpoint-create limiter (429), uniqueness of the CNI attachment ID and of
// the IPs (400), then the endpoint is registered (endpointManager.AddEndpoint: GET finds it from here),
// the create's own work runs, and its first regeneration. The agent runs the create on the request's
// context: a client that disconnects meanwhile makes it undo the create (errorDuringCreation). With
// SyncBuildEndpoint it also waits for the first regeneration there (WaitForFirstRegeneration), in the
// limiter's slot; without, it answers at once and the regeneration completes later. Once answered or
// regenerated the create stands, answer delivered or not.
func (a *Agent) put(w http.ResponseWriter, r *http.Request, id string, body []byte, work time.Duration) {
	if id != "cilium-local:0" {
		a.problem("PUT /endpoint/" + id + ": CNI plugins create with cilium-local:0")
	}
	var req models.EndpointChangeRequest
	if !a.validate("PUT /endpoint", body, &req) {
		writeJSON(w, http.StatusBadRequest, models.Error("invalid endpoint change request"))
		return
	}
	if err := genericVethRules(&req); err != nil {
		a.problem("PUT /endpoint: " + err.Error())
		writeJSON(w, http.StatusBadRequest, models.Error(err.Error()))
		return
	}
	if !a.waitRestored(w, r.Context()) {
		return
	}
	release, ok := a.admit(r.Context())
	if !ok {
		writeJSON(w, http.StatusTooManyRequests, models.Error("rate limited"))
		return
	}
	defer release()
	a.mu.Lock()
	if err := a.conflict(&req); err != nil {
		a.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, models.Error(err.Error()))
		return
	}
	ep := a.create(&req)
	ep.Status.State = models.EndpointStateRegenerating.Pointer()
	ep.Status.Policy.Realized.PolicyRevision = 0
	replyDelay, regeneration := a.replyDelay, a.regeneration
	a.mu.Unlock()
	if !sleepCtx(r.Context(), work) || (req.SyncBuildEndpoint && !sleepCtx(r.Context(), regeneration)) {
		a.mu.Lock()
		delete(a.endpoints, ep.ID)
		a.abandoned++
		a.mu.Unlock()
		writeJSON(w, http.StatusInternalServerError, models.Error("request cancelled while waiting for the first regeneration"))
		return
	}
	var reply []byte
	switch {
	case req.SyncBuildEndpoint:
		a.regenerated(ep.ID)
		reply = a.snapshot(ep.ID)
	case regeneration > 0:
		reply = a.snapshot(ep.ID)
		time.AfterFunc(regeneration, func() { a.regenerated(ep.ID) })
	default: // done as soon as answered
		reply = a.snapshot(ep.ID)
		a.regenerated(ep.ID)
	}
	time.Sleep(replyDelay)
	writeRaw(w, http.StatusCreated, reply)
}

// regenerated completes an endpoint's first regeneration, if it is still there. The endpoint is
// replaced, not changed in place: a snapshot handed out earlier stays as it was.
func (a *Agent) regenerated(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.endpoints[id]
	if old == nil {
		return
	}
	ep, status, policy := *old, *old.Status, *old.Status.Policy
	status.State = models.EndpointStateReady.Pointer()
	policy.Realized = &models.EndpointPolicy{PolicyRevision: 1}
	status.Policy, ep.Status = &policy, &status
	a.endpoints[id] = &ep
}

// snapshot is the endpoint's JSON as the API answers it now.
func (a *Agent) snapshot(id int64) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := json.Marshal(a.endpoints[id])
	return b
}

// conflict is what CreateEndpoint refuses before registering anything, in the agent's words: a second
// endpoint for the same CNI attachment ID, or an IP another endpoint already has. a.mu is held.
func (a *Agent) conflict(req *models.EndpointChangeRequest) error {
	if a.lookup("cni-attachment-id:"+req.ContainerID+":"+req.ContainerInterfaceName) != nil {
		return fmt.Errorf("endpoint for CNI attachment ID %s:%s already exists", req.ContainerID, req.ContainerInterfaceName)
	}
	for _, ip := range []string{"ipv4:" + req.Addressing.IPv4, "ipv6:" + req.Addressing.IPv6} {
		if !strings.HasSuffix(ip, ":") && a.lookup(ip) != nil {
			return fmt.Errorf("IP %s is already in use", ip)
		}
	}
	return nil
}

// genericVethRules are what a generic-veth endpoint must carry for the agent to attach to the veth.
func genericVethRules(req *models.EndpointChangeRequest) error {
	switch {
	case req.ContainerID == "":
		return fmt.Errorf("missing container-id")
	case req.InterfaceName == "" || req.InterfaceIndex == 0:
		return fmt.Errorf("missing host interface name/index")
	case req.Mac == "" || req.HostMac == "":
		return fmt.Errorf("missing mac/host-mac")
	case req.Addressing == nil || (req.Addressing.IPv4 == "" && req.Addressing.IPv6 == ""):
		return fmt.Errorf("missing addressing")
	case req.DatapathConfiguration == nil || !req.DatapathConfiguration.ExternalIpam:
		return fmt.Errorf("missing datapath-configuration.external-ipam")
	}
	return nil
}

// create stores an endpoint; a.mu is held.
func (a *Agent) create(req *models.EndpointChangeRequest) *models.Endpoint {
	a.nextID++
	mac := req.Mac
	if a.mac != "" {
		mac = a.mac
	}
	state := models.EndpointStateReady
	ep := &models.Endpoint{
		ID: a.nextID,
		Status: &models.EndpointStatus{
			State: &state,
			ExternalIdentifiers: &models.EndpointIdentifiers{
				CniAttachmentID: req.ContainerID + ":" + req.ContainerInterfaceName,
				ContainerID:     req.ContainerID,
				K8sNamespace:    req.K8sNamespace,
				K8sPodName:      req.K8sPodName,
			},
			Identity: identityFor(req.Labels),
			Policy:   &models.EndpointPolicyStatus{Realized: &models.EndpointPolicy{PolicyRevision: 1}},
			Health:   &models.EndpointHealth{OverallHealth: models.EndpointHealthStatusOK, Bpf: models.EndpointHealthStatusOK, Policy: models.EndpointHealthStatusOK, Connected: true},
			Labels:   &models.LabelConfigurationStatus{Realized: &models.LabelConfigurationSpec{User: req.Labels}},
			Networking: &models.EndpointNetworking{
				Addressing:             []*models.AddressPair{req.Addressing},
				ContainerInterfaceName: req.ContainerInterfaceName,
				HostMac:                req.HostMac,
				InterfaceIndex:         req.InterfaceIndex,
				InterfaceName:          req.InterfaceName,
				Mac:                    mac,
			},
		},
	}
	a.endpoints[ep.ID] = ep
	return ep
}

// lookup resolves the ID forms the API accepts: numeric, cni-attachment-id:, container-id:, ipv4:,
// ipv6: (pkg/endpointmanager/manager.go, Lookup).
func (a *Agent) lookup(id string) *models.Endpoint {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return a.endpoints[n]
	}
	prefix, value, _ := strings.Cut(id, ":")
	for _, ep := range a.endpoints {
		ids := ep.Status.ExternalIdentifiers
		switch {
		case prefix == "cni-attachment-id" && ids.CniAttachmentID == value,
			prefix == "container-id" && ids.ContainerID == value:
			return ep
		}
		for _, addr := range ep.Status.Networking.Addressing {
			if (prefix == "ipv4" && addr.IPv4 == value) || (prefix == "ipv6" && addr.IPv6 == value) {
				return ep
			}
		}
	}
	return nil
}
