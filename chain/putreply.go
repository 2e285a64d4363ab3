package chain

import (
	"errors"
	"io"

	"github.com/cilium/cilium/api/v1/client/endpoint"
	"github.com/cilium/cilium/api/v1/models"
	"github.com/go-openapi/runtime"
)

// createdReply is the part of PUT /endpoint's 201 answer that ADD uses. The answer is the agent's whole
// Endpoint (policy, controllers, log…): decoding all of it into models.Endpoint costs the reflection
// over dozens of types each process pays once, for two fields.
type createdReply struct {
	ID     int64 `json:"id"`
	Status *struct {
		Networking *struct {
			Mac string `json:"mac"`
		} `json:"networking"`
	} `json:"status"`
}

// slimCreated replaces the generated reader of PUT /endpoint for 201 only; every other answer (the
// errors ADD classifies by type and payload) still goes through the generated reader.
func slimCreated(op *runtime.ClientOperation) {
	op.Reader = createdReader{next: op.Reader}
}

type createdReader struct{ next runtime.ClientResponseReader }

func (r createdReader) ReadResponse(resp runtime.ClientResponse, consumer runtime.Consumer) (any, error) {
	if resp.Code() != 201 {
		return r.next.ReadResponse(resp, consumer)
	}
	var reply createdReply
	if err := consumer.Consume(resp.Body(), &reply); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	ep := &models.Endpoint{ID: reply.ID}
	if reply.Status != nil && reply.Status.Networking != nil {
		ep.Status = &models.EndpointStatus{Networking: &models.EndpointNetworking{Mac: reply.Status.Networking.Mac}}
	}
	return &endpoint.PutEndpointIDCreated{Payload: ep}, nil
}
