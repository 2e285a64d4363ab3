package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

// Multus sorts first (00-multus.conf) and hands each pod to its delegate network. It is never a
// primary of ours; what matters is whether the network it hands pods to is our chain.
type multusKind int

const (
	multusNone  multusKind = iota
	multusThin             // 00-multus.conf: {"type": "multus", "delegates": [...]} or "clusterNetwork"
	multusThick            // 00-multus.conflist: {"type": "multus-shim"}; the delegate lives in the daemon's config
)

const (
	multusType     = "multus"
	multusShimType = "multus-shim"
)

// readThinMultus records which network a thin Multus config delegates to.
func readThinMultus(cf *confFile) {
	cf.multus = multusThin
	var m struct {
		Delegates      []json.RawMessage `json:"delegates"`
		ClusterNetwork string            `json:"clusterNetwork"`
	}
	if json.Unmarshal(cf.data, &m) != nil {
		return
	}
	if len(m.Delegates) > 0 {
		cf.multusDelegate = m.Delegates[0]
	}
	cf.multusClusterNetwork = m.ClusterNetwork
}

// multusDelegateNetwork is the network name a thin Multus's inline delegate has, so derived mode
// chains onto the network Multus itself uses; "" without one.
func multusDelegateNetwork(valid []confFile) string {
	for _, cf := range valid {
		if cf.multus == multusThin && cf.multusDelegate != nil {
			var d struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(cf.multusDelegate, &d) == nil {
				return d.Name
			}
		}
	}
	return ""
}

// multusProblem says why pods that Multus (sorting before ours) hands on would miss our chain; "" when
// they reach it.
func (in *installer) multusProblem(m confFile, valid []confFile, ourNetwork string) string {
	own := in.cfg.confName
	fix := fmt.Sprintf("let Multus generate its config from the first other file, ours (--multus-conf-file=auto), "+
		"or point its clusterNetwork at %s", in.cfg.confPath())
	switch {
	case m.multus == multusThick:
		// The shim's file does not say where the daemon delegates; its docs' default (auto) is the
		// first file after its own, which is ours.
		if !in.multusWarned {
			in.multusWarned = true
			in.log.WithField("path", m.path).Warn("thick Multus (multus-shim) sorts first: its daemon's clusterNetwork must be our conflist; this cannot be checked from the node's files")
		}
		return ""
	case m.multusDelegate != nil:
		if chainsOurs(m.multusDelegate) {
			return ""
		}
		return fmt.Sprintf("Multus (%s) hands pods to an inline delegate that does not chain %s, so they get no policy: %s", m.path, pluginType, fix)
	case m.multusClusterNetwork != "":
		cn := m.multusClusterNetwork
		if filepath.IsAbs(cn) {
			if filepath.Base(cn) == own {
				return ""
			}
		} else {
			// By name, Multus takes the first file of the conf dir with that network name: ours, when
			// nothing before it has that name (ours keeps the primary's).
			ok := ourNetwork == cn
			for _, cf := range valid {
				if cf.multus == multusNone && cf.network == cn && filepath.Base(cf.path) < own {
					ok = false
				}
			}
			if ok {
				return ""
			}
		}
		return fmt.Sprintf("Multus (%s) hands pods to clusterNetwork %q, which is not our conflist: %s", m.path, cn, fix)
	}
	return fmt.Sprintf("Multus (%s) names no delegate we can check: %s", m.path, fix)
}

// chainsOurs reports whether a conflist or single config runs our plugin.
func chainsOurs(data []byte) bool {
	if holdsOurEntry(data) {
		return true
	}
	conf, err := libcni.NetworkPluginConfFromBytes(data)
	return err == nil && conf.Network.Type == pluginType
}
