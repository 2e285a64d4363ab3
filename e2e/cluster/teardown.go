//go:build cluster

package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// sweepProcesses stops, by PID, every process in the cluster's pid namespace that is not the test,
// PID 1 (nsinit.sh) or one of keep: what is left once the kubelet and containerd are stopped are the
// shims and the containers they ran. SIGTERM, then SIGKILL for whatever is still there after grace.
func sweepProcesses(t *testing.T, keep []int) {
	t.Helper()
	skip := map[int]bool{1: true, os.Getpid(): true}
	for _, p := range keep {
		skip[p] = true
	}
	left := func() map[int]string {
		out := map[int]string{}
		entries, _ := os.ReadDir("/proc")
		for _, d := range entries {
			pid, err := strconv.Atoi(d.Name())
			if err != nil || skip[pid] {
				continue
			}
			comm, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
			if err != nil {
				continue // gone meanwhile
			}
			if stat, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); isZombie(stat) {
				continue // exited; PID 1 reaps it
			}
			out[pid] = strings.TrimSpace(string(comm))
		}
		return out
	}
	procs := left()
	if len(procs) == 0 {
		return
	}
	t.Logf("teardown: stopping %d leftover processes by PID: %v", len(procs), procs)
	for pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	if err := peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if l := left(); len(l) > 0 {
			return fmt.Errorf("%v", l)
		}
		return nil
	}); err == nil {
		return
	}
	for pid := range left() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if l := left(); len(l) > 0 {
			return fmt.Errorf("%v", l)
		}
		return nil
	}); err != nil {
		t.Errorf("teardown: processes survive SIGKILL: %v", err)
	}
}

func isZombie(stat []byte) bool {
	// /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// mountBaseline is the set of mount IDs that existed before the node started: the namespace's own
// view, including the host's mounts it copied (shadowed by nsinit's private /run, but still listed).
type mountBaseline map[string]bool

func takeMountBaseline(t *testing.T) mountBaseline {
	t.Helper()
	return takeMountBaselineAt(t, "/proc/self/mountinfo")
}

func takeMountBaselineAt(t *testing.T, mountinfo string) mountBaseline {
	t.Helper()
	mounts, err := mountTableAt(mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	b := mountBaseline{}
	for _, m := range mounts {
		b[m.id] = true
	}
	return b
}

// unmountNew unmounts every mount made since the baseline below the given roots, deepest first: the
// kubelet's bind of its root dir and pod volumes, containerd's rootfs overlays and shm mounts, the
// pods' netns files. They live in the cluster's private mount namespace, but teardown does not rely
// on that.
func unmountNew(t *testing.T, base mountBaseline, roots ...string) {
	t.Helper()
	unmountNewAt(t, "/proc/self/mountinfo", base, func(m string) error {
		if err := syscall.Unmount(m, 0); err != nil {
			return syscall.Unmount(m, syscall.MNT_DETACH)
		}
		return nil
	}, roots...)
	// Pod netns files are plain files once their bind mount is gone.
	files, _ := filepath.Glob("/run/netns/cni-*")
	for _, f := range files {
		_ = os.Remove(f)
	}
}

// unmount unmounts one path in the node's mount namespace.
func (n *node) unmount(t *testing.T, path string) {
	t.Helper()
	a := n.argv("umount", path)
	if _, err := cmdOut(context.Background(), nil, a[0], a[1:]...); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

// mountinfo is the node's mount table.
func (n *node) mountinfo() string {
	if n.holder == 0 {
		return "/proc/self/mountinfo"
	}
	return fmt.Sprintf("/proc/%d/mountinfo", n.holder)
}

// unmountNew is unmountNew in the node's mount namespace (node 2: umount through nsenter).
func (n *node) unmountNew(t *testing.T, roots ...string) {
	t.Helper()
	if n.holder == 0 {
		unmountNew(t, n.mounts, roots...)
		return
	}
	unmountNewAt(t, n.mountinfo(), n.mounts, func(m string) error {
		a := n.argv("umount", m)
		if _, err := cmdOut(context.Background(), nil, a[0], a[1:]...); err != nil {
			a = n.argv("umount", "-l", m)
			_, err = cmdOut(context.Background(), nil, a[0], a[1:]...)
			return err
		}
		return nil
	}, roots...)
	files, _ := filepath.Glob(n.file("/run/netns/cni-*"))
	for _, f := range files {
		_ = os.Remove(f)
	}
}

func unmountNewAt(t *testing.T, mountinfo string, base mountBaseline, unmount func(string) error, roots ...string) {
	t.Helper()
	under := func(p string) bool {
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+"/") {
				return true
			}
		}
		return false
	}
	n := 0
	// A path can be mounted more than once (containerd binds /run/netns onto itself): repeat.
	for pass := 0; pass < 5; pass++ {
		mounts, err := mountTableAt(mountinfo)
		if err != nil {
			t.Errorf("teardown: %v", err)
			return
		}
		var targets []string
		for _, m := range mounts {
			if !base[m.id] && under(m.point) {
				targets = append(targets, m.point)
			}
		}
		if len(targets) == 0 {
			break
		}
		sort.SliceStable(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
		for _, m := range targets {
			if err := unmount(m); err != nil {
				t.Logf("teardown: umount %s: %v", m, err)
				continue
			}
			n++
		}
	}
	t.Logf("teardown: unmounted %d mounts the node made under %v (%s)", n, roots, mountinfo)
	mounts, _ := mountTableAt(mountinfo)
	for _, m := range mounts {
		if !base[m.id] && under(m.point) {
			t.Errorf("teardown: %s is still mounted", m.point)
		}
	}
}

// mountEntry is one mountinfo line: ID, the mounted subtree (root), mount point, file system type.
type mountEntry struct{ id, root, point, fsType string }

// mountTableAt reads a mountinfo file: mount ID (field 1) and mount point (field 5).
func mountTableAt(mountinfo string) ([]mountEntry, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			e := mountEntry{id: fields[0], root: unescapeMount(fields[3]), point: unescapeMount(fields[4])}
			// After the optional fields comes "-", then the type.
			for i := 5; i+1 < len(fields); i++ {
				if fields[i] == "-" {
					e.fsType = fields[i+1]
					break
				}
			}
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
