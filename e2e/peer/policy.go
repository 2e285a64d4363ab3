package peer

import (
	"fmt"

	"github.com/cilium/cilium/api/v1/models"
)

// The seed scenario's L3 and L4 policies as CiliumNetworkPolicy YAML: e2e/ drops them into the
// agent's --static-cnp-path, e2e/cluster/ applies them with kubectl. One text, so both harnesses
// test the same policy.
const (
	CNPL3 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l3-app-test
  namespace: default
spec:
  description: "ingress to app=test only from app=test"
  endpointSelector:
    matchLabels:
      app: test
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: test
`
	CNPL4 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l4-tcp-80
  namespace: default
spec:
  description: "ingress to app=test only on TCP 80"
  endpointSelector:
    matchLabels:
      app: test
  ingress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`
)

// RevisionAbove is one poll of the agent's policy revision: it returns the revision, with an error
// while it has not moved past before (the revision a change was made against).
func (a *AgentAPI) RevisionAbove(before int64) (int64, error) {
	rev, err := a.PolicyRevision()
	if err != nil {
		return rev, err
	}
	if rev <= before {
		return rev, fmt.Errorf("policy revision still %d", rev)
	}
	return rev, nil
}

// Realized is one poll of an endpoint lookup's result: nil once the endpoint exists and has
// realized policy revision rev. Passing the lookup's own error in keeps each caller's poll loop
// a single statement.
func Realized(ep *models.Endpoint, found bool, lookupErr error, rev int64) error {
	if lookupErr != nil || !found {
		return fmt.Errorf("found=%v err=%v", found, lookupErr)
	}
	if got := RealizedRevision(ep); got < rev {
		return fmt.Errorf("realized revision %d < %d", got, rev)
	}
	return nil
}
