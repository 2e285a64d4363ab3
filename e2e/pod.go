//go:build e2e

package e2e

import (
	"crypto/sha512"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
)

// podNamespace is the Kubernetes namespace the pods claim (K8S_POD_NAMESPACE); fromEndpoints
// selectors need it as a label.
const podNamespace = "default"

// pod is a network namespace of its own that cnitool attaches to the node's network.
type pod struct {
	name     string
	ns       netnsName
	labels   map[string]string // sent as CILIUM_LABEL_<key>=<value>
	ifname   string
	ip       net.IP // set by ADD
	hostVeth string // set by ADD: the node-side peer of eth0
}

// newPod creates the pod's netns; teardown removes it (and with it both veth ends) and the libcni
// cache entries that point at it.
func newPod(t *testing.T, name string, labels map[string]string) *pod {
	t.Helper()
	p := &pod{name: name, ns: netnsName("cchain-" + runID() + "-" + name), labels: labels, ifname: "eth0"}
	addNetns(t, p.ns)
	t.Cleanup(func() { removeCacheEntries(t, func(netns string) bool { return netns == p.ns.path() }) })
	return p
}

// containerID is the ID cnitool derives from the netns path (sha512, first 10 bytes, hex).
func (p *pod) containerID() string {
	s := sha512.Sum512([]byte(p.ns.path()))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// endpointID is how the agent's API finds the endpoint the plugin created for this attachment.
func (p *pod) endpointID() string {
	return "cni-attachment-id:" + p.containerID() + ":" + p.ifname
}

// cniArgs carries the pod's identity the way a runtime would, plus its labels.
func (p *pod) cniArgs() string {
	args := []string{"IgnoreUnknown=1", "K8S_POD_NAMESPACE=" + podNamespace, "K8S_POD_NAME=" + p.name}
	keys := make([]string, 0, len(p.labels))
	for k := range p.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "CILIUM_LABEL_"+k+"="+p.labels[k])
	}
	return strings.Join(args, ";")
}

// wantLabels are the endpoint labels the plugin should send for this pod.
func (p *pod) wantLabels(projectLabels bool) []string {
	var out []string
	if projectLabels { // from the project's entry: args-labels and labels
		out = append(out, "k8s:io.kubernetes.pod.namespace="+podNamespace, "k8s:io.cilium.k8s.policy.cluster="+clusterName)
	}
	for k, v := range p.labels {
		out = append(out, "container:"+k+"="+v)
	}
	return out
}

func (p *pod) String() string { return p.name }

// splitArgs turns CNI_ARGS into libcni's pairs.
func splitArgs(s string) [][2]string {
	var out [][2]string
	for _, kv := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}
