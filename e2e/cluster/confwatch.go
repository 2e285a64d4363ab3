//go:build cluster

package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// confWatcher polls the node's CNI conf dir and the plugin binary while the installer rolls, and
// records every state a runtime could have seen: a runtime loads the lexically first valid config
// from the files with a config extension, and execs /opt/cni/bin/cilium-chain when that config names it.
type confWatcher struct {
	pluginHashes map[string]string // sha256 → version label, the binaries the images ship
	stop         chan struct{}
	done         chan struct{}

	mu       sync.Mutex
	polls    int
	problems []string // every poll that found something a runtime would choke on
	states   []string // distinct consecutive states (for the log)
	binKey   string   // inode/size/mtime of the binary last hashed
	binLabel string
}

func watchConfDir(pluginHashes map[string]string, every time.Duration) *confWatcher {
	w := &confWatcher{pluginHashes: pluginHashes, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			w.poll()
			select {
			case <-w.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	return w
}

// finish stops polling and returns the poll count, the problems and the distinct states.
func (w *confWatcher) finish() (int, []string, []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.polls, w.problems, w.states
}

func (w *confWatcher) poll() {
	state, problem := w.observe()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	if problem != "" {
		w.problems = append(w.problems, time.Now().Format("15:04:05.000")+" "+problem)
	}
	if n := len(w.states); n == 0 || w.states[n-1] != state {
		w.states = append(w.states, state)
	}
}

// observe returns a one-line state and what is wrong with it ("" when a runtime would be fine).
func (w *confWatcher) observe() (string, string) {
	files, err := libcni.ConfFiles(cniConfDir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return "unlistable", fmt.Sprintf("list %s: %v", cniConfDir, err)
	}
	slices.Sort(files)
	var names, problems []string
	first := ""
	for _, f := range files {
		base := filepath.Base(f)
		names = append(names, base)
		list, err := loadConf(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s invalid: %v", base, err))
			continue
		}
		if first == "" {
			first = base
			if base != chainConflist {
				problems = append(problems, fmt.Sprintf("the runtime would use %s, not %s", base, chainConflist))
			} else if err := checkChained(list); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	bin := w.binary()
	if !strings.HasPrefix(bin, "v") {
		problems = append(problems, "plugin binary: "+bin)
	}
	state := fmt.Sprintf("files [%s], runtime uses %s, binary %s", strings.Join(names, " "), first, bin)
	return state, strings.Join(problems, "; ")
}

// loadConf parses a config file the way libcni does for the runtime.
func loadConf(path string) (*libcni.NetworkConfigList, error) {
	if strings.HasSuffix(path, ".conflist") {
		return libcni.ConfListFromFile(path)
	}
	conf, err := libcni.ConfFromFile(path)
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromConf(conf)
}

// checkChained: our conflist keeps Flannel's network name and version and ends with cilium-chain.
func checkChained(list *libcni.NetworkConfigList) error {
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	if list.Name != networkName || list.CNIVersion != "0.3.1" || !slices.Equal(types, chainedTypes) {
		return fmt.Errorf("%s is name %q cniVersion %q plugins %v, want %q 0.3.1 %v",
			chainConflist, list.Name, list.CNIVersion, types, networkName, chainedTypes)
	}
	return nil
}

// binary labels /opt/cni/bin/cilium-chain by the image version it came from; it re-hashes only when
// the file changed (the installer replaces it by rename, so the inode changes).
func (w *confWatcher) binary() string {
	path := filepath.Join(cniBinDir, "cilium-chain")
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return "not executable"
	}
	key := fmt.Sprintf("%v/%d/%d", fi.Sys(), fi.Size(), fi.ModTime().UnixNano())
	if key == w.binKey {
		return w.binLabel
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	label, ok := w.pluginHashes[sum]
	if !ok {
		label = "unknown content " + sum[:12]
	}
	w.binKey, w.binLabel = key, label
	return label
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
