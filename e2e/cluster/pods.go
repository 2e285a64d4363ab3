//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// pod is a test pod as the test knows it: from the API (uid, IP) and from the node (the libcni cache
// entry containerd wrote for its sandbox: sandbox ID, netns, host veth, the conflist it went through).
type pod struct {
	node      *node
	name, app string
	uid, ip   string
	cni       *cacheEntry
	ready     time.Duration // from kubectl apply to the Ready condition
}

func (p *pod) String() string { return p.name }

// testPodYAML runs the test image's TCP server on 80 and 8080 on node 1; it answers with the pod
// name.
func testPodYAML(name, app, image string) string { return podYAML(name, app, image, nodeName, 0) }

// podYAML is testPodYAML on the given node (scheduled there by its hostname label); a hostPort other
// than 0 maps it to the server's port 80.
func podYAML(name, app, image, node string, hostPort int) string {
	extra := ""
	if hostPort != 0 {
		extra = fmt.Sprintf("  ports:\n  - containerPort: 80\n    hostPort: %d\n    protocol: TCP\n", hostPort)
	}
	extra += "  env:\n  - name: POD_NAME\n    valueFrom:\n      fieldRef:\n        fieldPath: metadata.name\n"
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
  labels:
    app: %s
spec:
`, name, app) + appPodSpecYAML("  ", "", node, image, `["serve", "80", "8080"]`, extra)
}

// appPodSpecYAML is the body of a pod spec running the test app as container "app" on node, every line
// prefixed with indent: specExtra goes before the common fields (e.g. hostNetwork), containerExtra
// after the container's args (written at the container's own indentation, as "  ports: …").
func appPodSpecYAML(indent, specExtra, node, image, args, containerExtra string) string {
	body := specExtra + fmt.Sprintf(`automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: 5
nodeSelector:
  kubernetes.io/hostname: %s
containers:
- name: app
  image: %s
  imagePullPolicy: Never
  args: %s
`, node, image, args) + containerExtra
	var b strings.Builder
	for _, l := range strings.SplitAfter(body, "\n") {
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	return b.String()
}

// podStatus is the part of a Pod object the test reads.
type podStatus struct {
	Metadata struct {
		UID string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		HostNetwork bool `json:"hostNetwork"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (s *podStatus) isReady() bool {
	for _, c := range s.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// createPod creates a test pod on node 1 (see createPodOn).
func (c *cluster) createPod(t *testing.T, name, app string) *pod {
	t.Helper()
	return c.createPodOn(t, c.nodes[0], name, app)
}

// createPodOn applies a test pod on node n, waits until it is Ready and finds its sandbox in the
// node's libcni cache.
func (c *cluster) createPodOn(t *testing.T, n *node, name, app string) *pod {
	t.Helper()
	began := time.Now()
	if _, err := c.k.apply(context.Background(), podYAML(name, app, c.images.TestApp, n.name, 0)); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return c.waitPod(t, n, name, app, began)
}

// waitPod waits until a pod on node n is Ready and finds its sandbox in the node's libcni cache.
func (c *cluster) waitPod(t *testing.T, n *node, name, app string, began time.Time) *pod {
	t.Helper()
	p := &pod{node: n, name: name, app: app}
	err := peer.Eventually(3*time.Minute, 100*time.Millisecond, func() error {
		var s podStatus
		if err := c.k.getJSON([]string{"pod", name}, &s); err != nil {
			return err
		}
		if !s.isReady() {
			return fmt.Errorf("pod %s is %s, not Ready", name, s.Status.Phase)
		}
		p.uid, p.ip = s.Metadata.UID, s.Status.PodIP
		return nil
	})
	if err != nil {
		ev, _ := c.k.run(context.Background(), "get", "events", "--field-selector", "involvedObject.name="+name)
		t.Fatalf("pod %s: %v\nevents:\n%s\n--- %s kubelet (tail) ---\n%s", name, err, ev, n, n.kubelet.LogTail(30))
	}
	p.ready = time.Since(began)
	c.ips.record(t, p.ip, "pod "+name+" "+p.uid)
	entry, err := n.cacheEntryForPod(p.uid)
	if err != nil {
		t.Fatalf("pod %s: %v", name, err)
	}
	p.cni = entry
	t.Logf("pod %s (app=%s) on %s Ready in %s: IP %s, sandbox %.12s, host veth %s, network %q via [%s]",
		name, app, n, p.ready.Round(time.Millisecond), p.ip, entry.ContainerID, entry.hostVeth(), entry.NetworkName,
		strings.Join(entry.pluginTypes(), " → "))
	return p
}

// deletePod deletes the pod and waits until it is gone (its sandbox torn down through CNI DEL).
func (c *cluster) deletePod(t *testing.T, p *pod) time.Duration {
	t.Helper()
	began := time.Now()
	if _, err := c.k.run(context.Background(), "delete", "pod", p.name, "--wait=true", "--timeout=120s"); err != nil {
		t.Fatalf("delete pod %s: %v", p.name, err)
	}
	// The API object goes when the kubelet has stopped the containers; the sandbox (and its CNI DEL)
	// follows: wait for the cache entry to go too.
	err := peer.Eventually(2*time.Minute, 200*time.Millisecond, func() error {
		if peer.FileExists(p.cni.path) {
			return fmt.Errorf("libcni cache entry %s still there", p.cni.path)
		}
		return nil
	})
	if err != nil {
		t.Errorf("pod %s: %v\n--- containerd (tail) ---\n%s", p.name, err, p.node.containerd.LogTail(30))
	}
	return time.Since(began)
}

// failedSandboxEvents sums the counts of the FailedCreatePodSandBox events of the given pods.
func (c *cluster) failedSandboxEvents(t *testing.T, uids map[string]bool) int {
	t.Helper()
	var list struct {
		Items []struct {
			Count          int `json:"count"`
			InvolvedObject struct {
				UID string `json:"uid"`
			} `json:"involvedObject"`
		} `json:"items"`
	}
	if err := c.k.getJSON([]string{"events", "--field-selector", "reason=FailedCreatePodSandBox"}, &list); err != nil {
		t.Fatalf("events: %v", err)
	}
	n := 0
	for _, ev := range list.Items {
		if uids[ev.InvolvedObject.UID] {
			n += max(ev.Count, 1)
		}
	}
	return n
}

// ipTracker remembers every pod IP the cluster handed out, to prove none went to two pods.
type ipTracker struct {
	owner map[string]string
}

func (r *ipTracker) record(t *testing.T, ip, who string) {
	t.Helper()
	if r.owner == nil {
		r.owner = map[string]string{}
	}
	if ip == "" {
		t.Errorf("%s has no IP", who)
		return
	}
	if prev, ok := r.owner[ip]; ok && prev != who {
		t.Errorf("IP %s handed out twice: to %s and to %s", ip, prev, who)
		return
	}
	r.owner[ip] = who
}

// checkLive compares the IPs of all live pods with what was recorded: unique, and each one known.
func (c *cluster) checkLivePodIPs(t *testing.T) {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct {
				Name, Namespace, UID string
			} `json:"metadata"`
			podStatus
		} `json:"items"`
	}
	if err := c.k.getJSON([]string{"pods", "-A"}, &list); err != nil {
		t.Errorf("list pods: %v", err)
		return
	}
	seen := map[string]string{}
	for _, it := range list.Items {
		if it.Spec.HostNetwork || it.Status.PodIP == "" {
			continue
		}
		who := "pod " + it.Metadata.Name + " " + it.Metadata.UID
		if prev, ok := seen[it.Status.PodIP]; ok {
			t.Errorf("live pods %s and %s share IP %s", prev, who, it.Status.PodIP)
		}
		seen[it.Status.PodIP] = who
		c.ips.record(t, it.Status.PodIP, who)
	}
}
