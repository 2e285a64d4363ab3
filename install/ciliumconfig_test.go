package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ciliumConfigMap is Cilium's own CNI ConfigMap as users apply it.
func ciliumConfigMap(t *testing.T) corev1.ConfigMap {
	t.Helper()
	raw, err := os.ReadFile("testdata/cilium-cni-configuration.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(raw, &cm); err != nil {
		t.Fatal(err)
	}
	return cm
}

// mountConfigMap lays a ConfigMap out as the kubelet does: the keys in a timestamped dir, ..data
// pointing at it, each key a symlink through ..data.
func mountConfigMap(t *testing.T, dir string, data map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_12_01_00_00_00.000000001")
	if err := os.MkdirAll(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		writeFile(t, filepath.Join(ts, k), v, 0o644)
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// TestCiliumConfigMapAsIs: Cilium's cni-configuration ConfigMap, mounted as the chart mounts it
// (customConflistConfigMap: its cni-config key as /etc/cilium-chain/custom-conflist), works unchanged
// in custom mode: its cilium-cni entry becomes ours, the rest stays; its network name (generic-veth) is
// not Flannel's (cbr0), so it is refused unless --custom-name-mismatch says what to do.
func TestCiliumConfigMapAsIs(t *testing.T) {
	cm := ciliumConfigMap(t)
	for _, tt := range []struct {
		policy     string
		wantName   string
		wantReason string
	}{
		{policy: "refuse", wantReason: `network name "generic-veth" is not the primary's "cbr0"`},
		{policy: "use-primary", wantName: "cbr0"},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			n := newTestNode(t)
			writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			dir := filepath.Join(n.root, "etc/cilium-chain")
			mountConfigMap(t, dir, map[string]string{"custom-conflist": cm.Data["cni-config"]})
			in, err := newInstaller(mustConfig(t, n.args("--mode=custom", "--custom-conflist="+filepath.Join(dir, "custom-conflist"),
				"--custom-name-mismatch="+tt.policy)), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = roundOnce(t, in)
			if tt.wantReason != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantReason) || exists(n.ours()) {
					t.Fatalf("readiness %v, written %v; want refused with %q", err, exists(n.ours()), tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(n.ours())
			c, ok := parseChain(got)
			if !ok || strings.Join(c.types, ",") != "flannel,portmap,cilium-chain" || networkName(got) != tt.wantName {
				t.Fatalf("written: %s", got)
			}
		})
	}
}

// TestCustomRewritesCiliumCNI: an upstream entry keeps its options under our type; an input that
// needs no change is written byte for byte.
func TestCustomRewritesCiliumCNI(t *testing.T) {
	in := `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},` +
		`{"type":"cilium-cni","chaining-mode":"generic-veth","enable-debug":false,"log-file":"/var/run/cilium/cilium-cni.log"}]}`
	out, err := customConflist([]byte(in), "cbr0", renameRefuse)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, "cilium-cni\"", "cilium-chain\"", 1)
	if !sameJSON(out, []byte(want)) {
		t.Fatalf("got %s, want %s", out, want)
	}
	if err := checkWithPlugin(out); err != nil {
		t.Fatalf("the plugin refuses the rewritten entry: %v", err)
	}
	unchanged := `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},{"type":"cilium-chain"}]}`
	if out, err := customConflist([]byte(unchanged), "cbr0", renameRefuse); err != nil || string(out) != unchanged {
		t.Fatalf("got %s, %v; want the input byte for byte", out, err)
	}
}
