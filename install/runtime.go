package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// runtimeProblem says why the container runtime would not use our conflist, following the rules of
// the runtime in --container-runtime; "" when it would. Only files that sort before ours matter: both
// runtimes take the first config they accept.
//   - containerd's CRI plugin (go-cni) loads the files in order and fails the node's whole CNI setup
//     on the first one it cannot load, so an invalid file before ours breaks every pod on the node;
//   - CRI-O (ocicni) skips invalid files and files whose plugin binaries are missing, ours included.
func (in *installer) runtimeProblem(valid []confFile, skipped []skippedFile, ours []byte) string {
	own := in.cfg.confName
	if in.cfg.runtime == runtimeCRIO {
		if missing := missingBinaries(ours, in.cfg.binDir); len(missing) > 0 {
			return fmt.Sprintf("CRI-O skips a conflist whose plugin binaries are missing, and %v of ours are not in %s", missing, in.cfg.binDir)
		}
	}
	for _, f := range configsBefore(valid, skipped, own) {
		switch {
		case f.invalid != nil && in.cfg.runtime == runtimeContainerd:
			return fmt.Sprintf("containerd's CRI plugin (go-cni) fails the node's CNI on %s, which sorts before %s and is invalid: %v "+
				"(CRI-O would skip it): fix or remove that file", f.path, own, f.invalid)
		case f.invalid != nil:
			continue // CRI-O skips it
		case f.conf.multus != multusNone:
			if problem := in.multusProblem(f.conf, valid, networkName(ours)); problem != "" {
				return problem
			}
			continue // Multus hands the pod to our chain
		case in.cfg.runtime == runtimeCRIO && len(missingBinaries(f.conf.data, in.cfg.binDir)) > 0:
			continue // CRI-O skips it
		}
		return fmt.Sprintf("%s sorts before %s, so the runtime uses it instead of ours: pick a --conf-name that sorts first", f.path, own)
	}
	return ""
}

// orderedConfig is a file of the conf dir in the runtime's order, valid or not.
type orderedConfig struct {
	path    string
	conf    confFile // when valid
	invalid error    // why the runtime refuses it
}

// configsBefore lists the configs other than ours that sort before it, in order.
func configsBefore(valid []confFile, skipped []skippedFile, own string) []orderedConfig {
	var out []orderedConfig
	for _, cf := range valid {
		out = append(out, orderedConfig{path: cf.path, conf: cf})
	}
	for _, s := range skipped {
		out = append(out, orderedConfig{path: s.path, invalid: s.reason})
	}
	out = slices.DeleteFunc(out, func(f orderedConfig) bool { base := filepath.Base(f.path); return base == own || base > own })
	slices.SortFunc(out, func(a, b orderedConfig) int { return strings.Compare(a.path, b.path) })
	return out
}

// hasOtherConfig reports whether the conf dir holds any config besides ours, valid or not.
func hasOtherConfig(valid []confFile, skipped []skippedFile, own string) bool {
	for _, cf := range valid {
		if filepath.Base(cf.path) != own {
			return true
		}
	}
	for _, s := range skipped {
		if filepath.Base(s.path) != own {
			return true
		}
	}
	return false
}

// networkName is a conflist's network name; "" when it does not parse.
func networkName(conflist []byte) string {
	list, err := libcni.ConfListFromBytes(conflist)
	if err != nil {
		return ""
	}
	return list.Name
}

// pluginTypes lists the plugin types of a config, conflist or single; nil when it does not parse.
func pluginTypes(data []byte) []string {
	if conf, err := libcni.NetworkPluginConfFromBytes(data); err == nil && conf.Network.Type != "" {
		return []string{conf.Network.Type}
	}
	list, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return nil
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	return types
}

// missingBinaries lists the plugin types of a config that have no executable in binDir.
func missingBinaries(data []byte, binDir string) []string {
	var missing []string
	for _, t := range pluginTypes(data) {
		fi, err := os.Stat(filepath.Join(binDir, t))
		if (err != nil || fi.Mode().Perm()&0o111 == 0) && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	return missing
}
