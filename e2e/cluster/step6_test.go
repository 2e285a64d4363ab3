//go:build cluster

package cluster

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// step6Rollout — rolling the installer to the second image (plugin with another version string)
// while a watcher polls the conf dir and the binary every few milliseconds: every poll must find a
// state a runtime accepts (our conflist first and valid, every config valid, the plugin binary
// complete and from one of the two images).
func (s *scenario) step6Rollout(t *testing.T) {
	w := watchConfDir(s.pluginHashes, 5*time.Millisecond)
	began := time.Now()
	s.k.must(t, "-n", "kube-system", "set", "image", "ds/cilium-chain", "install="+s.images.InstallerNext)
	s.waitDaemonSet(t, s.images.InstallerNext)
	s.tm.rollout = time.Since(began)
	// Keep watching a little: the new installer may still be settling after it reports ready.
	time.Sleep(2 * time.Second)
	polls, problems, states := w.finish()
	t.Logf("watcher: %d polls over %s; states seen:\n  %s", polls, time.Since(began).Round(time.Millisecond), strings.Join(states, "\n  "))
	if polls < 100 {
		t.Errorf("only %d polls: the watcher did not really watch", polls)
	}
	if len(problems) > 0 {
		t.Errorf("the node was without a valid conflist/plugin during the rollout (%d of %d polls):\n%s",
			len(problems), polls, strings.Join(first(problems, 20), "\n"))
	}
	if last := states[len(states)-1]; !strings.Contains(last, "binary v2") {
		t.Errorf("after the rollout: %s, want the second image's plugin", last)
	}

	// The installed binary reports the new version string (CNI skel prints "about" without CNI_COMMAND).
	about, _ := exec.CommandContext(context.Background(), filepath.Join(cniBinDir, "cilium-chain")).CombinedOutput()
	want := strings.TrimPrefix(s.images.InstallerNext[strings.LastIndex(s.images.InstallerNext, ":"):], ":")
	if !strings.Contains(string(about), want) {
		t.Errorf("installed plugin says %q, want version %s", strings.TrimSpace(string(about)), want)
	} else {
		t.Logf("ok: installed plugin: %s", strings.TrimSpace(string(about)))
	}

	// A pod started after the rollout goes through the chain with the new binary.
	s.d = s.createPod(t, "test-d", "test")
	s.checkChained(t, s.d)
	t.Logf("ok: rollout to %s in %s with no invalid state in %d polls", s.images.InstallerNext, s.tm.rollout.Round(time.Millisecond), polls)
}

func first(items []string, n int) []string {
	if len(items) > n {
		return append(items[:n:n], "…")
	}
	return items
}
