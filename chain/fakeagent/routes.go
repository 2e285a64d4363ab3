package fakeagent

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cilium/cilium/api/v1/models"
)

func (a *Agent) route(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	switch {
	case r.Method == http.MethodGet && path == "/healthz":
		a.mu.Lock()
		state := a.health
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, &models.StatusResponse{Cilium: &models.Status{State: state}})
	case r.Method == http.MethodGet && path == "/config":
		a.mu.Lock()
		mtu, chainMTU := a.routeMTU, a.chainMTU
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, &models.DaemonConfiguration{Status: &models.DaemonConfigurationStatus{RouteMTU: mtu, EnableRouteMTUForCNIChaining: chainMTU}})
	case r.Method == http.MethodGet && path == "/endpoint":
		writeJSON(w, http.StatusOK, a.Endpoints())
	case strings.HasPrefix(path, "/endpoint/"):
		a.endpointRoute(w, r, strings.TrimPrefix(path, "/endpoint/"), body)
	default:
		writeJSON(w, http.StatusNotFound, models.Error("no route "+r.Method+" "+r.URL.Path))
	}
}

func (a *Agent) endpointRoute(w http.ResponseWriter, r *http.Request, rest string, body []byte) {
	id, sub, _ := strings.Cut(rest, "/")
	switch {
	case r.Method == http.MethodPut && sub == "":
		a.put(w, r, id, body)
	case r.Method == http.MethodDelete && sub == "":
		a.mu.Lock()
		ep := a.lookup(id)
		if ep != nil {
			delete(a.endpoints, ep.ID)
		}
		a.mu.Unlock()
		if ep == nil {
			writeJSON(w, http.StatusNotFound, models.Error("endpoint not found"))
			return
		}
		writeJSON(w, http.StatusOK, nil)
	case r.Method == http.MethodGet && (sub == "" || sub == "healthz"):
		a.mu.Lock()
		ep := a.lookup(id)
		a.mu.Unlock()
		switch {
		case ep == nil:
			writeJSON(w, http.StatusNotFound, models.Error("endpoint not found"))
		case sub == "healthz":
			writeJSON(w, http.StatusOK, ep.Status.Health)
		default:
			writeJSON(w, http.StatusOK, ep)
		}
	default:
		writeJSON(w, http.StatusNotFound, models.Error("no route "+r.Method+" "+r.URL.Path))
	}
}

func (a *Agent) put(w http.ResponseWriter, r *http.Request, id string, body []byte) {
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
	release, ok := a.admit(r.Context())
	if !ok {
		writeJSON(w, http.StatusTooManyRequests, models.Error("rate limited"))
		return
	}
	defer release()
	a.mu.Lock()
	attachment := "cni-attachment-id:" + req.ContainerID + ":" + req.ContainerInterfaceName
	if a.lookup(attachment) != nil {
		a.mu.Unlock()
		// The real agent's words (pkg/endpoint/api/endpoint_api_manager.go).
		writeJSON(w, http.StatusBadRequest, models.Error(fmt.Sprintf("endpoint for CNI attachment ID %s already exists", attachment[len("cni-attachment-id:"):])))
		return
	}
	ep := a.create(&req)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, ep)
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
			Health: &models.EndpointHealth{OverallHealth: models.EndpointHealthStatusOK, Bpf: models.EndpointHealthStatusOK, Policy: models.EndpointHealthStatusOK, Connected: true},
			Labels: &models.LabelConfigurationStatus{Realized: &models.LabelConfigurationSpec{User: req.Labels}},
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

// lookup resolves the ID forms the API accepts: numeric, cni-attachment-id:, container-id:.
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
	}
	return nil
}
