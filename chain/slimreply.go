package chain

import (
	"errors"
	"io"

	"github.com/cilium/cilium/api/v1/client/endpoint"
	"github.com/cilium/cilium/api/v1/models"
	"github.com/go-openapi/runtime"
)

// The agent answers PUT and GET /endpoint with its whole Endpoint (policy, controllers, log…): decoding
// all of it into models.Endpoint costs the reflection over dozens of types each process pays once, for
// the few fields the plugin reads. These readers replace the generated ones for the success code only;
// every other answer (the errors the plugin classifies by type and payload) still goes through them.

// createdReply is what ADD reads of PUT /endpoint's 201.
type createdReply struct {
	ID     int64 `json:"id"`
	Status *struct {
		Networking *struct {
			Mac string `json:"mac"`
		} `json:"networking"`
	} `json:"status"`
}

func slimCreated(op *runtime.ClientOperation) {
	slimReply(op, 201, func(r *createdReply) any {
		ep := &models.Endpoint{ID: r.ID}
		if r.Status != nil && r.Status.Networking != nil {
			ep.Status = &models.EndpointStatus{Networking: &models.EndpointNetworking{Mac: r.Status.Networking.Mac}}
		}
		return &endpoint.PutEndpointIDCreated{Payload: ep}
	})
}

// regenerationReply is what the wait for the first regeneration reads of GET /endpoint/{id}'s 200.
type regenerationReply struct {
	Status *struct {
		State  models.EndpointState `json:"state"`
		Policy *struct {
			Realized *struct {
				PolicyRevision int64 `json:"policy-revision"`
			} `json:"realized"`
		} `json:"policy"`
	} `json:"status"`
}

func slimRegeneration(op *runtime.ClientOperation) {
	slimReply(op, 200, func(r *regenerationReply) any {
		ep := &models.Endpoint{}
		if s := r.Status; s != nil {
			ep.Status = &models.EndpointStatus{State: &s.State}
			if s.Policy != nil && s.Policy.Realized != nil {
				ep.Status.Policy = &models.EndpointPolicyStatus{Realized: &models.EndpointPolicy{PolicyRevision: s.Policy.Realized.PolicyRevision}}
			}
		}
		return &endpoint.GetEndpointIDOK{Payload: ep}
	})
}

// realizedRevision is the policy revision the endpoint has realized: 0 before its first regeneration.
func realizedRevision(ep *models.Endpoint) int64 {
	if ep == nil || ep.Status == nil || ep.Status.Policy == nil || ep.Status.Policy.Realized == nil {
		return 0
	}
	return ep.Status.Policy.Realized.PolicyRevision
}

// endpointState is the endpoint's state as the agent reported it, "" if it did not.
func endpointState(ep *models.Endpoint) models.EndpointState {
	if ep == nil || ep.Status == nil || ep.Status.State == nil {
		return ""
	}
	return *ep.Status.State
}

// slimReply makes op decode its answer with code into T and hand on payload(T).
func slimReply[T any](op *runtime.ClientOperation, code int, payload func(*T) any) {
	op.Reader = slimReader[T]{code: code, next: op.Reader, payload: payload}
}

type slimReader[T any] struct {
	code    int
	next    runtime.ClientResponseReader
	payload func(*T) any
}

func (r slimReader[T]) ReadResponse(resp runtime.ClientResponse, consumer runtime.Consumer) (any, error) {
	if resp.Code() != r.code {
		return r.next.ReadResponse(resp, consumer)
	}
	var reply T
	if err := consumer.Consume(resp.Body(), &reply); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return r.payload(&reply), nil
}
