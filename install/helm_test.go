package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/cilium-chain"

// helmBinary is the real Helm that e2e/peers.sh helm installs into $PEER_DIR/bin.
func helmBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PEER_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "cilium-chain")
	}
	h := filepath.Join(dir, "bin", "helm")
	if _, err := os.Stat(h); err != nil {
		t.Skipf("no helm at %s: run `bash e2e/peers.sh helm` (make peers does)", h)
	}
	return h
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestManifestIsRenderedChart: the plain manifest is the chart rendered with its defaults.
func TestManifestIsRenderedChart(t *testing.T) {
	cmd := exec.Command("bash", "helm/render-manifest.sh", helmBinary(t))
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("render-manifest.sh: %v", err)
	}
	want, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the chart rendered with default values: run `make manifest` and commit", manifestPath)
	}
}

func TestHelmLint(t *testing.T) {
	helm(t, "lint", "--strict", chartDir)
	for _, v := range valuesFixtures(t) {
		helm(t, "lint", "--strict", chartDir, "-f", v)
	}
}

func valuesFixtures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/helm/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no values fixtures in ../testdata/helm: %v", err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.yaml") {
			out = append(out, f)
		}
	}
	return out
}

// TestHelmGolden renders each values fixture, compares it with its golden file, and checks that the
// installer accepts what the chart sets: its ConfigMap as environment plus the DaemonSet's args.
func TestHelmGolden(t *testing.T) {
	for _, v := range valuesFixtures(t) {
		t.Run(filepath.Base(v), func(t *testing.T) {
			out := helm(t, "template", "cilium-chain", chartDir, "--namespace", "kube-system", "-f", v)
			compareGolden(t, strings.TrimSuffix(v, ".yaml")+".golden.yaml", out)
			cm, ds := decodeRendered(t, out)
			c := ds.Spec.Template.Spec.Containers[0]
			env := func(k string) (string, bool) {
				for _, e := range c.Env { // the downward API's values (the node name) exist only in a pod
					if e.Name == k && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
						return "from-" + e.ValueFrom.FieldRef.FieldPath, true
					}
				}
				val, ok := cm.Data[k]
				return val, ok
			}
			cfg, err := parseConfig(c.Args, env, &bytes.Buffer{})
			if err != nil {
				t.Fatalf("the installer refuses the rendered options: %v", err)
			}
			entry, err := pluginEntry(cfg.plugin)
			if err != nil {
				t.Fatalf("plugin entry: %v", err)
			}
			if err := checkEntry(entry); err != nil {
				t.Fatalf("the plugin refuses the rendered entry %s: %v", entry, err)
			}
		})
	}
}

// TestHelmChecksumRollsPods: a changed value changes the pod template, so Helm rolls the pods.
func TestHelmChecksumRollsPods(t *testing.T) {
	sum := func(args ...string) string {
		out := helm(t, append([]string{"template", "cilium-chain", chartDir, "--namespace", "kube-system"}, args...)...)
		_, ds := decodeRendered(t, out)
		return ds.Spec.Template.Annotations["checksum/config"]
	}
	base := sum()
	if base == "" || base != sum() {
		t.Fatalf("checksum/config %q is missing or not stable", base)
	}
	if sum("--set", "plugin.logLevel=debug") == base {
		t.Fatal("a changed plugin option leaves checksum/config unchanged: the pods would keep the old options")
	}
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func decodeRendered(t *testing.T, out []byte) (corev1.ConfigMap, appsv1.DaemonSet) {
	t.Helper()
	var cm corev1.ConfigMap
	var ds appsv1.DaemonSet
	for _, doc := range docSeparator.Split(string(out), -1) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var target any
		switch meta.Kind {
		case "ConfigMap":
			target = &cm
		case "DaemonSet":
			target = &ds
		default:
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	if len(ds.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("rendered output has no DaemonSet with one container:\n%s", out)
	}
	return cm, ds
}
