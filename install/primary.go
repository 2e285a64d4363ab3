package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// confExtensions are the files a container runtime reads from its CNI conf dir.
var confExtensions = []string{".conf", ".conflist", ".json"}

// confFile is one file of the conf dir that the runtime would accept.
type confFile struct {
	path    string
	data    []byte
	lift    bool // a single-plugin config, not a conflist
	network string
	multus  multusKind
	// thin Multus only: the network it hands pods to
	multusDelegate       []byte // delegates[0], a conflist or a single config
	multusClusterNetwork string // or clusterNetwork: a network name or a file path
}

// skippedFile is a file the runtime would pass over, with the reason.
type skippedFile struct {
	path   string
	reason error
}

// scanConfDir lists the conf dir in the runtime's order (lexical, libcni.ConfFiles) and splits it into
// the files a runtime accepts and those it skips. A .conflist must parse and carry inline plugins; any
// other extension must be a single plugin config with a type (as containerd's go-cni and CRI-O do).
func scanConfDir(dir string) (valid []confFile, skipped []skippedFile, err error) {
	paths, err := libcni.ConfFiles(dir, confExtensions)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	slices.Sort(paths)
	for _, p := range paths {
		cf, err := readConfFile(p)
		if err != nil {
			skipped = append(skipped, skippedFile{path: p, reason: err})
			continue
		}
		valid = append(valid, cf)
	}
	return valid, skipped, nil
}

func readConfFile(path string) (confFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return confFile{}, err
	}
	cf := confFile{path: path, data: data}
	if strings.HasSuffix(path, ".conflist") {
		list, err := libcni.ConfListFromBytes(data)
		if err != nil {
			return confFile{}, err
		}
		if len(list.Plugins) == 0 {
			return confFile{}, fmt.Errorf("no inline plugins")
		}
		cf.network = list.Name
		for _, p := range list.Plugins {
			if p.Network.Type == multusShimType {
				cf.multus = multusThick
			}
		}
		return cf, nil
	}
	conf, err := libcni.NetworkPluginConfFromBytes(data)
	if err != nil {
		return confFile{}, err
	}
	cf.lift = true
	cf.network = conf.Network.Name
	if conf.Network.Type == multusType {
		readThinMultus(&cf)
	}
	return cf, nil
}

// pickPrimary returns the network we chain onto: the first valid file other than our own, or the first
// one named wantNetwork when that is set. ok is false when there is none (yet).
func pickPrimary(valid []confFile, ownName, wantNetwork string) (confFile, bool) {
	if wantNetwork == "" {
		wantNetwork = multusDelegateNetwork(valid)
	}
	for _, cf := range valid {
		// Multus is never the primary: its delegate would then be our own file, and pods would recurse.
		if filepath.Base(cf.path) == ownName || cf.multus != multusNone {
			continue
		}
		if wantNetwork != "" && cf.network != wantNetwork {
			continue
		}
		return cf, true
	}
	return confFile{}, false
}

// list is the config as the runtime runs it: a conflist, or a single config lifted into one.
func (cf confFile) list() (*libcni.NetworkConfigList, error) {
	if !cf.lift {
		return libcni.ConfListFromBytes(cf.data)
	}
	conf, err := libcni.NetworkPluginConfFromBytes(cf.data)
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromConf(conf)
}
