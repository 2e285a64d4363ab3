package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// istioEntry is the entry Istio CNI's installer inserts (cni/pkg/install: plugin.Config marshalled,
// cniVersion deleted before insertion; its testdata list-with-istio.conflist.golden).
const istioEntry = `{"name":"istio-cni","type":"istio-cni","ipam":{},"dns":{},"plugin_log_level":"info",` +
	`"cni_agent_run_dir":"/var/run/istio-cni","ambient_enabled":false,"enablement_selectors":[],"exclude_namespaces":null,` +
	`"pod_namespace":"istio-system","native_nftables":false,"enable_ambient_detection_retry":false}`

// linkerdEntry is linkerd2-cni's cni_network_config (charts/linkerd2-cni/templates/cni-plugin.yaml,
// default values).
const linkerdEntry = `{"name":"linkerd-cni","type":"linkerd-cni","log_level":"info",` +
	`"kubernetes":{"kubeconfig":"/etc/cni/net.d/ZZZ-linkerd-cni-kubeconfig"},` +
	`"linkerd":{"incoming-proxy-port":4143,"outgoing-proxy-port":4140,"proxy-uid":2102,"ports-to-redirect":[],` +
	`"inbound-ports-to-ignore":["4191","4190"],"simulate":false,"use-wait-flag":false,"iptables-mode":"legacy","ipv6":false}}`

// meshInstaller behaves as Istio's or Linkerd's installer does: whenever a watched conflist changes
// (and is not what it wrote itself), it removes its own entry and appends a fresh one.
type meshInstaller struct {
	entry   string
	sorted  bool   // Istio: re-encodes the whole file from a map (sorted keys, float numbers)
	allIn   string // Linkerd: every *.conflist of this dir; Istio: only files[0] (set by the test)
	mu      sync.Mutex
	writes  int
	ownSums map[string][]byte
}

func (m *meshInstaller) patch(path string, data []byte) []byte {
	if m.sorted {
		var doc map[string]any
		if json.Unmarshal(data, &doc) != nil {
			return nil
		}
		plugins, _ := doc["plugins"].([]any)
		plugins = slices.DeleteFunc(plugins, func(p any) bool { return p.(map[string]any)["type"] == entryType(m.entry) })
		var e any
		json.Unmarshal([]byte(m.entry), &e)
		doc["plugins"] = append(plugins, e)
		out, _ := json.MarshalIndent(doc, "", "  ")
		return append(out, '\n')
	}
	top := newObject()
	if json.Unmarshal(data, top) != nil {
		return nil
	}
	raw, ok := top.get("plugins")
	if !ok {
		return nil
	}
	var plugins []json.RawMessage
	json.Unmarshal(raw, &plugins)
	plugins = slices.DeleteFunc(plugins, func(p json.RawMessage) bool { return entryType(string(p)) == entryType(m.entry) })
	plugins = append(plugins, json.RawMessage(m.entry))
	b, _ := json.Marshal(plugins)
	top.set("plugins", b)
	flat, _ := top.MarshalJSON()
	var out bytes.Buffer
	json.Indent(&out, flat, "", "  ")
	return out.Bytes()
}

func entryType(entry string) string {
	var t struct {
		Type string `json:"type"`
	}
	json.Unmarshal([]byte(entry), &t)
	return t.Type
}

// run polls the files every 10 ms until stop closes.
func (m *meshInstaller) run(t *testing.T, files func() []string, stop <-chan struct{}) {
	m.ownSums = map[string][]byte{}
	for {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		for _, path := range files() {
			data, err := os.ReadFile(path)
			if err != nil || bytes.Equal(data, m.ownSums[path]) {
				continue
			}
			out := m.patch(path, data)
			if out == nil {
				continue
			}
			tmp := path + ".mesh-tmp" // not a conf extension: invisible to the runtime and to us
			if os.WriteFile(tmp, out, 0o644) != nil || os.Rename(tmp, path) != nil {
				continue
			}
			m.mu.Lock()
			m.writes++
			m.ownSums[path] = out
			m.mu.Unlock()
		}
	}
}

// TestCoexistWithMeshInstallers: Istio CNI (chained) and Linkerd's installer keep adding their entry
// to our conflist — and Linkerd to Flannel's too. The file converges within seconds holding theirs and
// ours, with no fight, no backoff, the installer ready; a primary change while they run is followed
// and still keeps their entry.
func TestCoexistWithMeshInstallers(t *testing.T) {
	tests := []struct {
		name  string
		mesh  *meshInstaller
		files func(n testNode) []string
	}{
		{name: "istio-cni", mesh: &meshInstaller{entry: istioEntry, sorted: true},
			files: func(n testNode) []string { return []string{n.ours()} }},
		{name: "linkerd-cni", mesh: &meshInstaller{entry: linkerdEntry},
			files: func(n testNode) []string { m, _ := filepath.Glob(filepath.Join(n.confDir, "*.conflist")); return m }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			primary := filepath.Join(n.confDir, "10-flannel.conflist")
			writeFile(t, primary, flannelPrimary, 0o644)
			r := startInstaller(t, mustConfig(t, n.args("--fight-threshold=3", "--fight-window=1m", "--fight-backoff=1h", "--resync=200ms")))
			eventually(t, 5*time.Second, "ours written", func() bool { return exists(n.ours()) })

			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { defer close(done); tt.mesh.run(t, func() []string { return tt.files(n) }, stop) }()
			defer func() { close(stop); <-done }()

			converged := func(marker string) {
				t.Helper()
				took := eventually(t, 5*time.Second, "converged", func() bool {
					a, _ := os.ReadFile(n.ours())
					time.Sleep(500 * time.Millisecond) // stable for half a second, through two resyncs
					b, _ := os.ReadFile(n.ours())
					return bytes.Equal(a, b) && strings.Contains(string(b), entryType(tt.mesh.entry)) &&
						strings.Contains(string(b), `"cilium-chain"`) && strings.Contains(string(b), marker) &&
						r.in.ready.check() == nil
				})
				t.Logf("converged in %s", took.Round(10*time.Millisecond))
				b, _ := os.ReadFile(n.ours())
				c, ok := parseChain(b)
				if !ok || c.ours() < 1 || strings.Count(string(b), `"cilium-chain"`) != 1 {
					t.Fatalf("our entry is not once, after the primary's: %s", b)
				}
			}
			converged(`"portmap"`)
			writeFile(t, primary, flannelWith("v2"), 0o644)
			converged(`"v2"`)
			if logs := r.logs.String(); strings.Contains(logs, "keeps changing") || strings.Contains(logs, "restoring it") {
				t.Fatalf("the installer fought the %s installer", tt.name)
			}
			if wrote := strings.Count(r.logs.String(), "wrote conflist"); wrote > 4 {
				t.Errorf("wrote our conflist %d times for one start and one primary change", wrote)
			}
		})
	}
}

// TestAcceptable: what counts as our file with another installer's additions, and what does not.
func TestAcceptable(t *testing.T) {
	want := `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"},{"type":"cilium-chain"}]}`
	tests := []struct {
		name string
		cur  string
		ok   bool
	}{
		{"same bytes", want, true},
		{"re-encoded with other key order", `{"name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"},{"type":"cilium-chain"}],"cniVersion":"0.3.1"}`, true},
		{"istio appended", strings.Replace(want, `{"type":"cilium-chain"}`, `{"type":"cilium-chain"},`+istioEntry, 1), true},
		{"foreign before ours", strings.Replace(want, `{"type":"cilium-chain"}`, linkerdEntry+`,{"type":"cilium-chain"}`, 1), true},
		{"ours dropped", `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"},` + istioEntry + `]}`, false},
		{"ours moved first", `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"cilium-chain"},{"type":"flannel"},{"type":"portmap"}]}`, false},
		{"renamed", strings.Replace(want, "cbr0", "other", 1), false},
		{"primary entry changed", strings.Replace(want, `{"type":"portmap"}`, `{"type":"portmap","x":1}`, 1), false},
		{"our options changed", strings.Replace(want, `{"type":"cilium-chain"}`, `{"type":"cilium-chain","log-level":"debug"}`, 1), false},
		{"a cilium-cni entry added", strings.Replace(want, `{"type":"cilium-chain"}`, `{"type":"cilium-chain"},{"type":"cilium-cni"}`, 1), false},
		{"ours twice", strings.Replace(want, `{"type":"cilium-chain"}`, `{"type":"cilium-chain"},{"type":"cilium-chain"}`, 1), false},
		{"not JSON", `{"name":`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptable([]byte(want), []byte(tt.cur)); got != tt.ok {
				t.Fatalf("acceptable = %v, want %v", got, tt.ok)
			}
		})
	}
}

// TestWithForeignKeepsTheirPlace: a restore keeps the entries others added, on their side of ours.
func TestWithForeignKeepsTheirPlace(t *testing.T) {
	want := `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel","v":2},{"type":"cilium-chain"}]}`
	cur := `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel","v":1},` + linkerdEntry + `,{"type":"cilium-chain"},` + istioEntry + `]}`
	c, ok := parseChain(withForeign([]byte(want), []byte(cur)))
	if !ok {
		t.Fatal("output does not parse")
	}
	if got := strings.Join(c.types, ","); got != "flannel,linkerd-cni,cilium-chain,istio-cni" {
		t.Fatalf("types %s", got)
	}
	if !sameJSON(c.plugins[0], json.RawMessage(`{"type":"flannel","v":2}`)) {
		t.Fatalf("the primary's entry is not the new one: %s", c.plugins[0])
	}
}

// TestPrimaryChangeKeepsForeignEntries: re-deriving after a primary change writes the new chain with
// the entries others had added, in one write (no window without them).
func TestPrimaryChangeKeepsForeignEntries(t *testing.T) {
	n := newTestNode(t)
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	writeFile(t, primary, flannelPrimary, 0o644)
	in, err := newInstaller(mustConfig(t, n.args()), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	roundOnce(t, in)
	mesh := &meshInstaller{entry: istioEntry, sorted: true}
	b, _ := os.ReadFile(n.ours())
	writeFile(t, n.ours(), string(mesh.patch(n.ours(), b)), 0o644)
	if err := roundOnce(t, in); err != nil {
		t.Fatalf("not ready with istio-cni added: %v", err)
	}
	writeFile(t, primary, flannelWith("v2"), 0o644)
	if err := roundOnce(t, in); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(n.ours())
	c, ok := parseChain(got)
	if !ok || strings.Join(c.types, ",") != "flannel,portmap,cilium-chain,istio-cni" || !strings.Contains(string(got), "v2") {
		t.Fatalf("after the primary change: %s", got)
	}
}

// FuzzWithForeign: for any file on disk, restoring our chain with its foreign entries gives a file
// that counts as ours, and nothing panics.
func FuzzWithForeign(f *testing.F) {
	f.Add(`{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},` + linkerdEntry + `,{"type":"cilium-chain"},` + istioEntry + `]}`)
	f.Add(`{"plugins":[{"type":"istio-cni"},{"type":"cilium-chain","x":1}]}`)
	f.Add(`{"plugins":[{"type":1}]}`)
	want := []byte(`{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"},{"type":"cilium-chain"}]}`)
	f.Fuzz(func(t *testing.T, cur string) {
		out := withForeign(want, []byte(cur))
		if !acceptable(want, out) {
			t.Fatalf("withForeign gave a file that is not ours:\n%s", out)
		}
		_ = acceptable([]byte(cur), want)
	})
}
