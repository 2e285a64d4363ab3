package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestProbePort: /readyz names the plugin version (the binary's own --version line), /healthz fails
// once the loop has not finished a round for stuckAfter, /metrics counts what the loop did.
func TestProbePort(t *testing.T) {
	n := newTestNode(t)
	writeFile(t, n.source, "#!/bin/sh\necho 'cilium-chain v9.8.7: chained CNI plugin' >&2\n", 0o755)
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	r := startInstaller(t, mustConfig(t, n.args("--resync=1h", "--fight-threshold=2", "--fight-backoff=1h")))
	h := r.in.probeHandler()
	eventually(t, 5*time.Second, "ready", func() bool { code, _ := get(t, h, "/readyz"); return code == 200 })
	if _, body := get(t, h, "/readyz"); !strings.HasPrefix(body, "ok\n") || !strings.HasSuffix(body, "\nplugin: cilium-chain v9.8.7\n") {
		t.Errorf("/readyz = %q, want the plugin's version", body)
	}
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d %q while the loop runs", code, body)
	}

	// Istio adds its entry (kept), then someone drops ours twice (restored, then the backoff).
	b, _ := os.ReadFile(n.ours())
	writeFile(t, n.ours(), string((&meshInstaller{entry: istioEntry, sorted: true}).patch(n.ours(), b)), 0o644)
	eventually(t, 2*time.Second, "kept counted", func() bool {
		_, m := get(t, h, "/metrics")
		return strings.Contains(m, `cilium_chain_install_foreign_changes_total{action="kept"} 1`)
	})
	for i := 0; i < 2; i++ {
		writeFile(t, n.ours(), `{"cniVersion":"1.0.0","name":"cilium","plugins":[{"type":"cilium-cni"}]}`, 0o644)
		time.Sleep(400 * time.Millisecond)
	}
	_, m := get(t, h, "/metrics")
	for _, want := range []string{
		`cilium_chain_install_binary_installs_total{result="ok"} 1`,
		`cilium_chain_install_conflist_writes_total{result="ok"} 2`,
		`cilium_chain_install_foreign_changes_total{action="restored"} 2`,
		`cilium_chain_install_fight_backoffs_total 1`,
		`cilium_chain_install_ready 0`,
		`cilium_chain_install_unmanaged_pods 0`,
		`cilium_chain_install_info{version="dev"} 1`,
		`cilium_chain_install_seconds_since_conflist_matched 0.`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", m)
	}

	// A loop that finishes no round for stuckAfter is stuck: the liveness check fails.
	r.in.lastRound.Store(time.Now().Add(-r.in.stuckAfter() - time.Second).UnixNano())
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stuck") {
		t.Errorf("/healthz = %d %q with a stuck loop", code, body)
	}
	// The next finished round makes it live again.
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelWith("v2"), 0o644)
	eventually(t, 2*time.Second, "live after a round", func() bool { code, _ := get(t, h, "/healthz"); return code == 200 })
}

// TestVersionFlag: --version prints the installer's version and exits 0 without touching a node.
func TestVersionFlag(t *testing.T) {
	p := startInstallerProcess(t, "--version")
	if code := p.wait(t, 10*time.Second); code != 0 || p.output.String() != "cilium-chain-install dev\n" {
		t.Fatalf("exit %d, output %q", code, p.output.String())
	}
}

// TestAdoptionMetrics: adoption's pass counts reach /metrics through the adoptionGauges hook.
func TestAdoptionMetrics(t *testing.T) {
	n := newTestNode(t)
	in, err := newInstaller(mustConfig(t, n.args()), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if in.adopt.gauges == nil {
		t.Fatal("the adopter has no metrics hook")
	}
	in.adopt.gauges.setAdoption(2, 5, 1, true)
	_, m := get(t, in.probeHandler(), "/metrics")
	for _, want := range []string{"cilium_chain_install_unmanaged_pods 1", "cilium_chain_install_managed_pods 5",
		"cilium_chain_install_adopted_pods_total 2", "cilium_chain_install_adoption_pass_failures_total 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
