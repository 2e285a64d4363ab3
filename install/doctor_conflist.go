package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

const areaConflist = "conflist"

// loadedConflist is the network the runtime runs for every pod, as the doctor found it.
type loadedConflist struct {
	*libcni.NetworkConfigList
	path string
}

// checkConflist finds the file the runtime loads, by its rules (cniRuntime), and judges it: it must
// chain cilium-chain under the primary's network name. It returns the loaded network, nil if none.
func (d *doctor) checkConflist() *loadedConflist {
	valid, skipped, err := scanConfDir(d.cfg.confDir)
	if err != nil {
		d.r.fail(areaConflist, "conf dir", "cannot "+err.Error(), "")
		return nil
	}
	files := confOrder(valid, skipped)
	if len(files) == 0 {
		d.r.fail(areaConflist, "runtime loads", fmt.Sprintf("no CNI config in %s: the node is NotReady", d.cfg.confDir),
			"is the primary CNI (e.g. Flannel) installed? cilium-chain only chains onto an existing network")
		return nil
	}
	for _, f := range d.cfg.cniRuntime().choose(files) {
		switch {
		case f.fatal:
			d.r.fail(areaConflist, "runtime loads", fmt.Sprintf("containerd cannot load %s, the lexically first file: %v; it drops the config it had, so its CNI is down (no pod can start) until the file is fixed", f.path, f.refused),
				fmt.Sprintf("fix or remove %s", f.path))
			return nil
		case f.refused != nil:
			d.r.warn(areaConflist, "skipped file", fmt.Sprintf("CRI-O skips %s: %v", f.path, f.refused), "")
			continue
		}
		list, err := f.conf.list()
		if err != nil { // it parsed as a config already
			d.r.fail(areaConflist, "runtime loads", fmt.Sprintf("cannot read %s as a network: %v", f.path, err), "")
			return nil
		}
		how := "CRI-O loads %s (network %q), the first valid of %d file(s)"
		if d.cfg.runtime == runtimeContainerd {
			how = "containerd loads %s (network %q), the lexically first of %d file(s)"
		}
		d.r.ok(areaConflist, "runtime loads", fmt.Sprintf(how, f.path, list.Name, len(files)))
		loaded := &loadedConflist{NetworkConfigList: list, path: f.path}
		d.judgeLoaded(loaded)
		return loaded
	}
	d.r.fail(areaConflist, "runtime loads", fmt.Sprintf("CRI-O finds no valid config in %s: the node is NotReady", d.cfg.confDir), "")
	return nil
}

// judgeLoaded: the loaded network must hold our plugin, be our file, and keep the primary's name.
func (d *doctor) judgeLoaded(l *loadedConflist) {
	ours := d.cfg.confPath()
	holds := slices.ContainsFunc(l.Plugins, func(p *libcni.PluginConfig) bool { return p.Network.Type == pluginType })
	switch {
	case !holds && l.path != ours && fileExists(ours):
		d.r.fail(areaConflist, "chains cilium-chain", fmt.Sprintf("%s shadows ours (%s): it sorts first and has no %s entry, so pods get no Cilium endpoint", l.path, filepath.Base(ours), pluginType),
			fmt.Sprintf("remove %s, or give ours a name that sorts before it (--conf-name / Helm cni.confName)", l.path))
		return
	case !holds:
		d.r.fail(areaConflist, "chains cilium-chain", fmt.Sprintf("%s has no %s entry and %s does not exist: pods get no Cilium endpoint", l.path, pluginType, ours),
			"is the installer running on this node and ready? see the installer findings below")
		return
	case l.path != ours:
		d.r.ok(areaConflist, "chains cilium-chain", fmt.Sprintf("%s holds a %s entry (not the installer's file %s)", l.path, pluginType, filepath.Base(ours)))
	default:
		d.r.ok(areaConflist, "chains cilium-chain", fmt.Sprintf("%s chains %s", filepath.Base(l.path), pluginNames(l.NetworkConfigList)))
	}
	d.checkNetworkName(l)
}

// checkNetworkName: libcni's cache and host-local IPAM are keyed by the network name; a chained
// conflist that renamed the primary's network DELs old pods without prevResult and can hand out an
// IP twice.
func (d *doctor) checkNetworkName(l *loadedConflist) {
	valid, _, err := scanConfDir(d.cfg.confDir)
	if err != nil {
		return // listed fine a moment ago; the first check reported any error
	}
	primary, ok := d.cfg.cniRuntime().primary(valid, filepath.Base(l.path), d.cfg.primaryNetwork)
	switch {
	case !ok && d.cfg.mode == modeCustom:
		d.r.ok(areaConflist, "network name", fmt.Sprintf("%q (custom mode, no other network file to compare with)", l.Name))
	case !ok:
		d.r.warn(areaConflist, "network name", fmt.Sprintf("no primary network file besides %s to compare %q with", filepath.Base(l.path), l.Name),
			"the installer removes its conflist when the primary's disappears; is the primary CNI being reinstalled?")
	case primary.network != l.Name:
		d.r.fail(areaConflist, "network name", fmt.Sprintf("%q, but the primary %s calls it %q: pods added before the switch are deleted without their cached result and host-local can hand out an IP twice", l.Name, filepath.Base(primary.path), primary.network),
			"keep the primary's network name in the chained conflist (derived mode does; in custom mode use the primary's name)")
	default:
		d.r.ok(areaConflist, "network name", fmt.Sprintf("%q, the same as the primary %s", l.Name, filepath.Base(primary.path)))
	}
}

func pluginNames(l *libcni.NetworkConfigList) string {
	names := make([]string, 0, len(l.Plugins))
	for _, p := range l.Plugins {
		names = append(names, p.Network.Type)
	}
	return strings.Join(names, " -> ")
}

// pluginBinaries are the binaries a network runs: every plugin's type and IPAM type, and for Flannel
// the delegate it generates (bridge with host-local unless told otherwise).
func pluginBinaries(l *libcni.NetworkConfigList) []string {
	var bins []string
	add := func(name string) {
		if name != "" && !slices.Contains(bins, name) {
			bins = append(bins, name)
		}
	}
	for _, p := range l.Plugins {
		add(p.Network.Type)
		add(p.Network.IPAM.Type)
		if p.Network.Type != "flannel" {
			continue
		}
		var fl struct {
			Delegate struct {
				Type string `json:"type"`
				IPAM struct {
					Type string `json:"type"`
				} `json:"ipam"`
			} `json:"delegate"`
		}
		_ = json.Unmarshal(p.Bytes, &fl) // it parsed as a plugin config already
		add(cmp.Or(fl.Delegate.Type, "bridge"))
		add(cmp.Or(fl.Delegate.IPAM.Type, "host-local"))
	}
	return bins
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
