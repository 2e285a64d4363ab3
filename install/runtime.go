package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

// runtimeProblem says why the container runtime would not run our conflist (cniRuntime's rules with
// ours in place); "" when it would. Only files that sort before ours matter: the runtime takes the
// first config it accepts.
func (in *installer) runtimeProblem(valid []confFile, skipped []skippedFile, ours []byte) string {
	own, rt := in.cfg.confName, in.cfg.cniRuntime()
	if v := rt.judge(orderedConfig{path: in.cfg.confPath(), conf: confFile{path: in.cfg.confPath(), data: ours}}); v.refused != nil {
		var missing *missingPlugins
		if errors.As(v.refused, &missing) {
			return fmt.Sprintf("CRI-O skips a conflist whose plugin binaries are missing, and %v of ours are not in %s", missing.types, missing.binDir)
		}
		return fmt.Sprintf("CRI-O skips our conflist: %v", v.refused)
	}
	for _, f := range configsBefore(valid, skipped, own) {
		v := rt.judge(f)
		switch {
		case v.fatal:
			return fmt.Sprintf("containerd's CRI plugin (go-cni) fails the node's CNI on %s, which sorts before %s and is invalid: %v "+
				"(CRI-O would skip it): fix or remove that file", f.path, own, f.invalid)
		case v.refused != nil:
			continue // CRI-O skips it
		case f.conf.multus != multusNone:
			if problem := in.multusProblem(f.conf, valid, networkName(ours)); problem != "" {
				return problem
			}
			continue // Multus hands the pod to our chain
		}
		return fmt.Sprintf("%s sorts before %s, so the runtime uses it instead of ours: pick a --conf-name that sorts first", f.path, own)
	}
	return ""
}

// configsBefore lists the configs other than ours that sort before it, in the runtime's order.
func configsBefore(valid []confFile, skipped []skippedFile, own string) []orderedConfig {
	var out []orderedConfig
	for _, f := range confOrder(valid, skipped) {
		if filepath.Base(f.path) < own {
			out = append(out, f)
		}
	}
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
