//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// Everything a run creates carries its PID: netns cchain-*-<pid>, run dir cchain-e2e-<pid>.
const (
	netnsPattern  = `^cchain-(?:node-|ext-|)(\d+)(?:-.*)?$`
	runDirPattern = `/cchain-e2e-(\d+)(?:/|$)`
)

// cleanStale removes what earlier runs that died left behind: processes (by pidfile), mounts in
// their run dirs, their netns, their libcni cache entries and run dirs. Live runs are left alone.
func cleanStale(t *testing.T) {
	t.Helper()
	staleNetns, staleRunDir := regexp.MustCompile(netnsPattern), regexp.MustCompile(runDirPattern)
	killStale(t, "cilium-agent")
	killStale(t, "etcd")
	for _, m := range staleMounts() {
		t.Logf("unmounting stale %s", m)
		bestEffort(t, "umount", "-l", m)
	}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if m := staleNetns.FindStringSubmatch(e.Name()); m != nil && !alive(m[1]) {
			t.Logf("deleting stale netns %s", e.Name())
			bestEffort(t, "ip", "netns", "del", e.Name())
		}
	}
	removeCacheEntries(t, func(netns string) bool {
		m := staleNetns.FindStringSubmatch(filepath.Base(netns))
		return strings.HasPrefix(netns, "/var/run/netns/cchain-") && m != nil && !alive(m[1])
	})
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "cchain-e2e-*"))
	for _, d := range dirs {
		if m := staleRunDir.FindStringSubmatch(d); m != nil && !alive(m[1]) && len(staleMounts()) == 0 {
			_ = os.RemoveAll(d)
		}
	}
}

func alive(pid string) bool { return pid == runID() || peer.FileExists("/proc/"+pid) }

// staleMounts lists mount points inside run dirs of dead runs (their private bpffs).
func staleMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	staleRunDir := regexp.MustCompile(runDirPattern)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if m := staleRunDir.FindStringSubmatch(fields[4]); m != nil && !alive(m[1]) {
			out = append(out, fields[4])
		}
	}
	return out
}

// libcniCacheDir is where cnitool (libcni) caches results; it has no knob for another place.
const libcniCacheDir = "/var/lib/cni/results"

// removeCacheEntries deletes libcni cache files whose netns matches, so a run leaves the machine's
// cache as it found it.
func removeCacheEntries(t *testing.T, match func(netns string) bool) {
	t.Helper()
	entries, _ := os.ReadDir(libcniCacheDir)
	for _, e := range entries {
		path := filepath.Join(libcniCacheDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var c struct {
			NetNS string `json:"netns"`
		}
		if json.Unmarshal(b, &c) == nil && match(c.NetNS) {
			if err := os.Remove(path); err != nil {
				t.Logf("teardown: %v", err)
			}
		}
	}
}
