package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMultus: Multus (thin 00-multus.conf, thick 00-multus.conflist) sorts before ours and is never
// our primary (its delegate would then be our own file: recursion). We chain onto the network Multus
// itself delegates to, and are ready only when the pods it hands on reach our chain.
func TestMultus(t *testing.T) {
	bridge := `{"cniVersion":"0.3.1","name":"mynet","plugins":[{"type":"bridge","bridge":"br0"}]}`
	thin := func(inner string) string {
		return `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus","kubeconfig":"/etc/cni/net.d/multus.d/multus.kubeconfig",` + inner + `}`
	}
	tests := []struct {
		name        string
		multusFile  string
		multus      string
		wantNetwork string // the network ours is derived from
		wantReason  string // "" = ready
	}{
		{name: "thin, inline delegate without us", multusFile: "00-multus.conf", multus: thin(`"delegates":[` + bridge + `]`),
			wantNetwork: "mynet", wantReason: "inline delegate that does not chain cilium-chain"},
		{name: "thin, inline delegate is our chain", multusFile: "00-multus.conf",
			multus:      thin(`"delegates":[{"cniVersion":"0.3.1","name":"mynet","plugins":[{"type":"bridge","bridge":"br0"},{"type":"cilium-chain"}]}]`),
			wantNetwork: "mynet"},
		{name: "thin, clusterNetwork is our file", multusFile: "00-multus.conf", multus: thin(`"clusterNetwork":"/etc/cni/net.d/05-cilium.conflist"`), wantNetwork: "cbr0"},
		{name: "thin, clusterNetwork by name finds ours first", multusFile: "00-multus.conf", multus: thin(`"clusterNetwork":"cbr0"`), wantNetwork: "cbr0"},
		{name: "thin, clusterNetwork is the primary's file", multusFile: "00-multus.conf",
			multus: thin(`"clusterNetwork":"/etc/cni/net.d/10-flannel.conflist"`), wantNetwork: "cbr0", wantReason: `clusterNetwork "/etc/cni/net.d/10-flannel.conflist", which is not our conflist`},
		{name: "thick shim", multusFile: "00-multus.conflist",
			multus: `{"cniVersion":"0.3.1","name":"multus-cni-network","plugins":[{"type":"multus-shim","logLevel":"verbose","logToStderr":true,"socketDir":"/host/run/multus/"}]}`, wantNetwork: "cbr0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			writeFile(t, filepath.Join(n.confDir, "20-bridge.conflist"), bridge, 0o644)
			writeFile(t, filepath.Join(n.confDir, tt.multusFile), tt.multus, 0o644)
			in, err := newInstaller(mustConfig(t, n.args()), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = roundOnce(t, in)
			b, _ := os.ReadFile(n.ours())
			if strings.Contains(string(b), "multus") {
				t.Fatalf("Multus made its way into our conflist (recursion): %s", b)
			}
			if c, ok := parseChain(b); !ok || !fileContains(n.ours(), `"name": "`+tt.wantNetwork+`"`) || c.ours() < 1 {
				t.Fatalf("ours is not chained onto %s: %s", tt.wantNetwork, b)
			}
			wantErrContaining(t, err, tt.wantReason)
		})
	}
}
