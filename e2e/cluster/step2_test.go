//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// step2Apply — kubectl apply of the manifest: the DaemonSet becomes ready, 05-cilium.conflist is
// derived from Flannel's and keeps its network name, and the plugin binary is in the CNI bin dir.
func (s *scenario) step2Apply(t *testing.T) {
	began := time.Now()
	out := s.k.must(t, "apply", "-f", s.manifest)
	t.Logf("kubectl apply -f install/kubernetes/cilium-chain.yaml:\n%s", strings.TrimSpace(out))
	s.waitDaemonSet(t, s.images.Installer)
	s.tm.installerReady = time.Since(began)
	t.Logf("ok: DaemonSet ready %s after kubectl apply", s.tm.installerReady.Round(time.Millisecond))

	files := confDirFiles(t)
	if !slices.Equal(files, []string{chainConflist, flannelConflist}) {
		t.Errorf("conf dir holds %v, want [%s %s]", files, chainConflist, flannelConflist)
	}
	list, err := libcni.ConfListFromFile(filepath.Join(cniConfDir, chainConflist))
	if err != nil {
		t.Fatalf("%s: %v", chainConflist, err)
	}
	if err := checkChained(list); err != nil {
		t.Error(err)
	}
	if err := sameFirstPlugin(list.Bytes, s.flannel); err != nil {
		t.Errorf("the Flannel entry was not carried over unchanged: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(cniConfDir, flannelConflist)); !bytes.Equal(now, s.flannel) {
		t.Errorf("%s was changed", flannelConflist)
	}
	t.Logf("ok: %s: network %q, cniVersion %s, plugins %v\n%s", chainConflist, list.Name, list.CNIVersion, chainedTypes, list.Bytes)
	for _, n := range s.nodes[1:] {
		l, err := libcni.ConfListFromFile(n.file(filepath.Join(cniConfDir, chainConflist)))
		if err == nil {
			err = checkChained(l)
		}
		if err != nil {
			t.Errorf("%s: %v", n, err)
		} else {
			t.Logf("ok: %s: its installer pod wrote the same chained %s", n, chainConflist)
		}
	}

	// install/README.md's "Verify", as an operator on the node would run it.
	logs := s.k.must(t, "-n", "kube-system", "logs", "ds/cilium-chain")
	if !strings.Contains(logs, "wrote conflist") {
		t.Errorf("installer log lacks \"wrote conflist\":\n%s", logs)
	}
	if body, err := httpGet("http://127.0.0.1:9887/readyz"); err != nil || !strings.HasPrefix(body, "ok") {
		t.Errorf("installer /readyz: %q %v", body, err)
	} else {
		t.Logf("ok: installer log says \"wrote conflist\"; 127.0.0.1:9887/readyz says %q", strings.TrimSpace(body))
	}

	bin := filepath.Join(cniBinDir, "cilium-chain")
	sum, err := fileSHA256(bin)
	if err != nil {
		t.Fatalf("plugin binary: %v", err)
	}
	if label := s.pluginHashes[sum]; !strings.HasPrefix(label, "v1") {
		t.Errorf("%s is %q (sha256 %.12s), want the first image's plugin", bin, label, sum)
	} else {
		t.Logf("ok: %s is the plugin from %s", bin, label)
	}
}

// waitDaemonSet waits for `rollout status`, then checks every desired pod is ready with image.
func (s *scenario) waitDaemonSet(t *testing.T, image string) {
	t.Helper()
	if _, err := s.k.run(context.Background(), "-n", "kube-system", "rollout", "status", "ds/cilium-chain", "--timeout=240s"); err != nil {
		logs, _ := s.k.run(context.Background(), "-n", "kube-system", "logs", "-l", "app.kubernetes.io/name=cilium-chain", "--tail=30")
		t.Fatalf("rollout: %v\ninstaller logs:\n%s", err, logs)
	}
	var ds struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
		Status struct {
			Desired int `json:"desiredNumberScheduled"`
			Ready   int `json:"numberReady"`
			Updated int `json:"updatedNumberScheduled"`
		} `json:"status"`
	}
	if err := s.k.getJSON([]string{"-n", "kube-system", "ds", "cilium-chain"}, &ds); err != nil {
		t.Fatal(err)
	}
	if n := len(s.nodes); ds.Status.Desired != n || ds.Status.Ready != n || ds.Status.Updated != n {
		t.Errorf("DaemonSet desired/ready/updated = %d/%d/%d, want %d on each", ds.Status.Desired, ds.Status.Ready, ds.Status.Updated, n)
	}
	if c := ds.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != image {
		t.Errorf("DaemonSet runs %+v, want image %s", c, image)
	}
}

// installerPod is the installer DaemonSet's pod on node n ("pod/<name>"): with two nodes,
// `kubectl exec ds/cilium-chain` would pick either.
func (s *scenario) installerPod(t *testing.T, n *node) string {
	t.Helper()
	out, err := s.k.run(t.Context(), "-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=cilium-chain",
		"--field-selector", "spec.nodeName="+n.name, "-o", "name")
	name, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if err != nil || name == "" {
		t.Fatalf("installer pod on %s: %q %v", n, out, err)
	}
	return name
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

// sameFirstPlugin compares the first plugin of two conflists as JSON values.
func sameFirstPlugin(a, b []byte) error {
	first := func(data []byte) (any, error) {
		var l struct {
			Plugins []any `json:"plugins"`
		}
		if err := json.Unmarshal(data, &l); err != nil || len(l.Plugins) == 0 {
			return nil, fmt.Errorf("no plugins: %v", err)
		}
		return l.Plugins[0], nil
	}
	pa, err := first(a)
	if err != nil {
		return err
	}
	pb, err := first(b)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(pa, pb) {
		return fmt.Errorf("%v != %v", pa, pb)
	}
	return nil
}
