package chain

import (
	"fmt"
	"strings"
)

// podArgs is what cilium-chain takes from CNI_ARGS.
type podArgs struct {
	PodName      string
	PodNamespace string
	PodUID       string
	// All holds every pair, for CILIUM_LABEL_* and args-labels.
	All map[string]string
}

// withPodIdentity lets the operator name the CNI_ARGS that carry the pod's name and namespace outside
// Kubernetes (e.g. Nomad's alloc and job IDs), so Hubble shows workload names there too. A mapping the
// operator configured wins over K8S_POD_* pairs.
func (a *podArgs) withPodIdentity(nameArg, namespaceArg string) {
	if v, ok := a.All[nameArg]; ok && nameArg != "" {
		a.PodName = v
	}
	if v, ok := a.All[namespaceArg]; ok && namespaceArg != "" {
		a.PodNamespace = v
	}
}

// parseCNIArgs parses "K=V;K2=V2". Every plugin in a chain parses CNI_ARGS, and libcni's parser fails
// on a pair without "=": so does this one, with a message that names the pair.
func parseCNIArgs(s string) (*podArgs, error) {
	args := &podArgs{All: map[string]string{}}
	if s == "" {
		return args, nil
	}
	for _, pair := range strings.Split(s, ";") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: CNI_ARGS pair %q is not KEY=VALUE", ErrInvalidEnv, pair)
		}
		if strings.Contains(v, "=") {
			return nil, fmt.Errorf("%w: CNI_ARGS value of %q contains \"=\"", ErrInvalidEnv, k)
		}
		args.All[k] = v
	}
	args.PodName = args.All["K8S_POD_NAME"]
	args.PodNamespace = args.All["K8S_POD_NAMESPACE"]
	args.PodUID = args.All["K8S_POD_UID"]
	return args, nil
}

func validArgKey(k string) bool {
	return !strings.ContainsAny(k, "=; \t\n")
}
