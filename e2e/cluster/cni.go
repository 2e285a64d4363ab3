//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	libcniCacheDir = "/var/lib/cni/results"                 // containerd's go-cni → libcni default
	hostLocalDir   = "/var/lib/cni/networks/" + networkName // host-local's store, keyed by network name
	flannelDataDir = "/var/lib/cni/flannel"                 // the Flannel plugin's saved delegate configs
)

// cacheEntry is libcni's cache file for one attachment (libcni.cachedInfo).
type cacheEntry struct {
	path        string
	Kind        string      `json:"kind"`
	ContainerID string      `json:"containerId"`
	Config      []byte      `json:"config"`
	IfName      string      `json:"ifName"`
	NetworkName string      `json:"networkName"`
	NetNS       string      `json:"netns"`
	CniArgs     [][2]string `json:"cniArgs"`
	Result      struct {
		Interfaces []struct {
			Name    string `json:"name"`
			Mac     string `json:"mac"`
			Sandbox string `json:"sandbox"`
		} `json:"interfaces"`
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	} `json:"result"`
}

func (c *cacheEntry) arg(key string) string {
	for _, kv := range c.CniArgs {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// pluginTypes are the types in the conflist the attachment was ADDed with, in chain order.
func (c *cacheEntry) pluginTypes() []string {
	var list struct {
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(c.Config, &list); err != nil {
		return []string{"(unparsable: " + err.Error() + ")"}
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Type)
	}
	return types
}

// hostVeth is the node end of the pod's veth: the result's interface that has no sandbox and is not
// the bridge (0.3.1 from Flannel: [cni0, veth…, eth0{sandbox}]).
func (c *cacheEntry) hostVeth() string {
	for _, i := range c.Result.Interfaces {
		if i.Sandbox == "" && strings.HasPrefix(i.Name, "veth") {
			return i.Name
		}
	}
	return ""
}

func readCacheEntries() ([]*cacheEntry, error) { return readCacheEntriesIn(libcniCacheDir) }

func readCacheEntriesIn(dir string) ([]*cacheEntry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return nil, err
	}
	var out []*cacheEntry
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("libcni cache: %w", err)
		}
		e := &cacheEntry{path: f}
		if err := json.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("libcni cache %s: %w", f, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// cacheEntryForPod finds the attachment of a pod's sandbox on node 1 by the K8S_POD_UID containerd
// passed.
func cacheEntryForPod(uid string) (*cacheEntry, error) {
	return cacheEntryForPodIn(libcniCacheDir, uid)
}

// cacheEntryForPod is cacheEntryForPod in the node's libcni cache.
func (n *node) cacheEntryForPod(uid string) (*cacheEntry, error) {
	return cacheEntryForPodIn(n.file(libcniCacheDir), uid)
}

func cacheEntryForPodIn(dir, uid string) (*cacheEntry, error) {
	entries, err := readCacheEntriesIn(dir)
	if err != nil {
		return nil, err
	}
	var found *cacheEntry
	for _, e := range entries {
		// containerd also caches its loopback attachment (network cni-loopback) per sandbox.
		if e.NetworkName == networkName && e.arg("K8S_POD_UID") == uid {
			if found != nil {
				return nil, fmt.Errorf("two libcni cache entries for pod uid %s: %s and %s", uid, found.path, e.path)
			}
			found = e
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no libcni cache entry for pod uid %s in %s", uid, dir)
	}
	return found, nil
}

// hostLocalReservations maps each reserved IP to the container ID in node 1's host-local store.
func hostLocalReservations() (map[string]string, error) { return hostLocalReservationsIn(hostLocalDir) }

func hostLocalReservationsIn(dir string) (map[string]string, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("host-local store: %w", err)
	}
	out := map[string]string{}
	for _, f := range files {
		if f.Name() == "lock" || strings.HasPrefix(f.Name(), "last_reserved_ip") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("host-local store: %w", err)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		out[f.Name()] = strings.TrimSpace(id)
	}
	return out, nil
}

// checkIPAMConsistent: on node 1, every host-local reservation belongs to a sandbox with a libcni
// cache entry, and every cache entry of our network holds exactly one reservation (nothing leaked
// either way).
func checkIPAMConsistent() error { return checkIPAMConsistentIn(libcniCacheDir, hostLocalDir) }

func checkIPAMConsistentIn(cacheDir, hostLocal string) error {
	entries, err := readCacheEntriesIn(cacheDir)
	if err != nil {
		return err
	}
	res, err := hostLocalReservationsIn(hostLocal)
	if err != nil {
		return err
	}
	cached := map[string]bool{}
	var problems []string
	for _, e := range entries {
		if e.NetworkName != networkName {
			continue
		}
		cached[e.ContainerID] = true
		n := 0
		for _, id := range res {
			if id == e.ContainerID {
				n++
			}
		}
		if n != 1 {
			problems = append(problems, fmt.Sprintf("sandbox %.12s has %d host-local reservations", e.ContainerID, n))
		}
	}
	for ip, id := range res {
		if !cached[id] {
			problems = append(problems, fmt.Sprintf("host-local reservation %s for %.12s has no libcni cache entry (leak)", ip, id))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
