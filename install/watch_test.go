package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flannelWith is the Flannel conflist with a marker, so each rewrite is distinguishable.
func flannelWith(marker string) string {
	return strings.Replace(flannelPrimary, `"hairpinMode":true`, `"hairpinMode":true,"marker":"`+marker+`"`, 1)
}

// TestPrimaryRewrittenUpdatesOursWithinASecond: with the default debounce and settle and no resync to
// fall back on, each rewrite of the primary (a plain in-place write, as Flannel's cp does) must
// reach our conflist within a second.
func TestPrimaryRewrittenUpdatesOursWithinASecond(t *testing.T) {
	n := newTestNode(t)
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	writeFile(t, primary, flannelWith("v0"), 0o644)
	startInstaller(t, mustConfig(t, n.args("--debounce=150ms", "--settle=300ms", "--resync=1h")))
	eventually(t, 5*time.Second, "first conflist", func() bool { return fileContains(n.ours(), `"marker": "v0"`) })

	var worst time.Duration
	for i := 1; i <= 5; i++ {
		marker := "v" + string(rune('0'+i))
		writeFile(t, primary, flannelWith(marker), 0o644)
		took := eventually(t, time.Second, "conflist updated after rewrite "+marker, func() bool {
			return fileContains(n.ours(), `"marker": "`+marker+`"`)
		})
		worst = max(worst, took)
	}
	t.Logf("slowest update: %s", worst.Round(time.Millisecond))
}

// TestPrimaryRemovedRemovesOurs: no primary, no conflist of ours (the node falls back to nothing
// rather than to a stale chain); when it comes back, so do we.
func TestPrimaryRemovedRemovesOurs(t *testing.T) {
	n := newTestNode(t)
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	writeFile(t, primary, flannelPrimary, 0o644)
	r := startInstaller(t, mustConfig(t, n.args("--resync=1h")))
	eventually(t, 5*time.Second, "conflist written", func() bool { return exists(n.ours()) })
	eventually(t, time.Second, "ready", func() bool { return r.in.ready.check() == nil })

	if err := os.Remove(primary); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "our conflist removed", func() bool { return !exists(n.ours()) })
	if err := r.in.ready.check(); err == nil {
		t.Error("still ready without a conflist")
	}
	if !exists(n.binary()) {
		t.Error("the binary went with the conflist; it should stay")
	}

	writeFile(t, primary, flannelPrimary, 0o644)
	eventually(t, 2*time.Second, "conflist back with the primary", func() bool { return exists(n.ours()) })
	eventually(t, time.Second, "ready again", func() bool { return r.in.ready.check() == nil })
}

// TestNonAtomicPrimaryRewriteKeepsOurs: a primary that is briefly half-written while it is rewritten
// in place must not make our conflist blink out — with the settle delay, and without it too (an
// invalid primary is still a primary: fail closed). The settle=0 case shows the torn file really
// reached the installer (it logged keeping our file).
func TestNonAtomicPrimaryRewriteKeepsOurs(t *testing.T) {
	tests := []struct {
		settle   string
		wantSeen bool // the installer saw the torn primary
	}{
		{settle: "300ms"},
		{settle: "0s", wantSeen: true},
	}
	for _, tt := range tests {
		t.Run("settle="+tt.settle, func(t *testing.T) {
			n := newTestNode(t)
			primary := filepath.Join(n.confDir, "10-flannel.conflist")
			writeFile(t, primary, flannelPrimary, 0o644)
			r := startInstaller(t, mustConfig(t, n.args("--debounce=50ms", "--settle="+tt.settle, "--resync=1h")))
			eventually(t, 5*time.Second, "conflist written", func() bool { return exists(n.ours()) })

			var gone atomic.Bool
			stop := make(chan struct{})
			watcherDone := make(chan struct{})
			go func() {
				defer close(watcherDone)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !exists(n.ours()) {
						gone.Store(true)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			for i := 0; i < 3; i++ {
				marker := "slow" + string(rune('a'+i))
				content := flannelWith(marker)
				f, err := os.OpenFile(primary, os.O_WRONLY|os.O_TRUNC, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				half := len(content) / 2
				f.WriteString(content[:half])
				time.Sleep(150 * time.Millisecond) // longer than the debounce: the installer sees the torn file
				f.WriteString(content[half:])
				f.Close()
				eventually(t, 2*time.Second, "rewrite followed", func() bool { return fileContains(n.ours(), marker) })
			}
			close(stop)
			<-watcherDone
			if gone.Load() {
				t.Fatal("our conflist disappeared during the rewrites")
			}
			if seen := strings.Contains(r.logs.String(), "keeping our last conflist"); tt.wantSeen && !seen {
				t.Fatal("the torn primary never reached the installer: the test shows nothing")
			}
		})
	}
}

// TestOursRestoredAndFightBackoff: someone removing or rewriting our conflist once gets it restored;
// someone doing it over and over makes us back off with a warning, then try again.
func TestOursRestoredAndFightBackoff(t *testing.T) {
	n := newTestNode(t)
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	r := startInstaller(t, mustConfig(t, n.args("--fight-threshold=4", "--fight-window=30s", "--fight-backoff=2s", "--resync=1h")))
	eventually(t, 5*time.Second, "conflist written", func() bool { return exists(n.ours()) })
	want, _ := os.ReadFile(n.ours())

	os.Remove(n.ours())
	eventually(t, 2*time.Second, "restored after removal", func() bool { b, _ := os.ReadFile(n.ours()); return bytes.Equal(b, want) })

	foreign := `{"cniVersion":"1.0.0","name":"cilium","plugins":[{"type":"cilium-cni"}]}`
	// Three more foreign writes: restored each time (4 with the removal trips the detector)...
	for i := 0; i < 2; i++ {
		writeFile(t, n.ours(), foreign, 0o644)
		eventually(t, 2*time.Second, "restored after a foreign write", func() bool { b, _ := os.ReadFile(n.ours()); return bytes.Equal(b, want) })
	}
	if strings.Contains(r.logs.String(), "keeps changing") {
		t.Fatal("backed off before the threshold")
	}
	writeFile(t, n.ours(), foreign, 0o644)
	eventually(t, 2*time.Second, "fight warning", func() bool { return strings.Contains(r.logs.String(), "another process keeps changing our conflist") })
	backoffStart := time.Now()
	never(t, time.Second, "overwrote the other writer during the backoff", func() bool {
		b, _ := os.ReadFile(n.ours())
		return !bytes.Equal(b, []byte(foreign))
	})
	if r.in.ready.check() == nil {
		t.Error("ready while another process owns our conflist")
	}
	took := eventually(t, 4*time.Second, "restored after the backoff", func() bool { b, _ := os.ReadFile(n.ours()); return bytes.Equal(b, want) })
	if since := time.Since(backoffStart); since < 1900*time.Millisecond {
		t.Errorf("restored %s after the warning, before the 2s backoff ended (%s)", since, took)
	}
}

// TestCustomModeFollowsItsFile: custom mode writes the given conflist unchanged, follows its edits,
// and keeps the last good one when it turns invalid.
func TestCustomModeFollowsItsFile(t *testing.T) {
	n := newTestNode(t)
	custom := filepath.Join(n.root, "config", "custom-conflist")
	os.MkdirAll(filepath.Dir(custom), 0o755)
	v1 := `{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"},{"type":"cilium-chain","labels":["k8s:rev=v1"]}]}`
	writeFile(t, custom, v1, 0o644)
	r := startInstaller(t, mustConfig(t, n.args("--mode=custom", "--custom-conflist="+custom, "--resync=1h")))
	eventually(t, 5*time.Second, "custom conflist written as is", func() bool { b, _ := os.ReadFile(n.ours()); return string(b) == v1 })

	v2 := strings.Replace(v1, "v1", "v2", 1)
	writeFile(t, custom, v2, 0o644)
	eventually(t, 2*time.Second, "custom edit followed", func() bool { b, _ := os.ReadFile(n.ours()); return string(b) == v2 })

	writeFile(t, custom, `{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}`, 0o644)
	eventually(t, 2*time.Second, "invalid custom reported", func() bool { return strings.Contains(r.logs.String(), "is invalid") })
	if b, _ := os.ReadFile(n.ours()); string(b) != v2 {
		t.Errorf("an invalid custom conflist replaced the last good one: %s", b)
	}
	if r.in.ready.check() == nil {
		t.Error("ready with an invalid custom conflist")
	}
}

// TestReadyFileOnlyWhileInPlace: the readiness file exists only while binary and conflist are there.
func TestReadyFileOnlyWhileInPlace(t *testing.T) {
	n := newTestNode(t)
	readyFile := filepath.Join(n.root, "ready")
	r := startInstaller(t, mustConfig(t, n.args("--ready-file="+readyFile, "--resync=1h")))
	never(t, 500*time.Millisecond, "ready without a primary", func() bool { return exists(readyFile) })
	if !exists(n.binary()) {
		t.Fatal("binary not installed while waiting for a primary")
	}
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	eventually(t, 2*time.Second, "ready file", func() bool { return exists(readyFile) })

	// The probe re-checks the disk, so a vanished binary reads as not ready at once.
	os.Remove(n.binary())
	if err := r.in.ready.check(); err == nil || !strings.Contains(err.Error(), "plugin binary") {
		t.Errorf("check() = %v, want the missing binary", err)
	}
	eventually(t, 2*time.Second, "binary reinstalled", func() bool { return exists(n.binary()) && r.in.ready.check() == nil })
}
