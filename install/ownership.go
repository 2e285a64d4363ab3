package main

import (
	"fmt"
	"os"
	"slices"
)

// otherPlugins are CNI types that belong to other software: --binary-name must not be one of them,
// or we would overwrite (and on uninstall remove) that plugin's binary.
var otherPlugins = []string{
	// containernetworking/plugins
	"bandwidth", "bridge", "dhcp", "dummy", "firewall", "host-device", "host-local", "ipvlan", "loopback",
	"macvlan", "portmap", "ptp", "sbr", "static", "tap", "tuning", "vlan", "vrf",
	// primaries and meta plugins found in conf dirs
	"flannel", "calico", "calico-ipam", "aws-cni", "egress-cni", "cilium-cni", "multus", "multus-shim",
	"istio-cni", "linkerd-cni", "weave-net", "kube-ovn", "antrea", "azure-vnet", "gke",
}

// checkOwnership refuses, at start, names that would make us write or remove a file we did not create:
// a --conf-name that is another config's file, a --binary-name that is another plugin's.
func checkOwnership(cfg *config) error {
	if slices.Contains(otherPlugins, cfg.binaryName) {
		return fmt.Errorf("--binary-name %q is another CNI plugin's binary; we would overwrite it", cfg.binaryName)
	}
	valid, _, err := scanConfDir(cfg.confDir)
	if err != nil {
		return nil // a conf dir that does not exist yet holds nobody's file
	}
	for _, cf := range valid {
		if cf.path == cfg.confPath() || cfg.binaryName == pluginType {
			continue // our own type may well appear in a primary that already chains us
		}
		for _, t := range pluginTypes(cf.data) {
			if t == cfg.binaryName {
				return fmt.Errorf("--binary-name %q is the type of a plugin in %s: it is another plugin's binary", cfg.binaryName, cf.path)
			}
		}
	}
	if data, err := os.ReadFile(cfg.confPath()); err == nil && !holdsOurEntry(data) {
		return fmt.Errorf("--conf-name %s is another config (it does not chain %s): we would overwrite it; "+
			"pick a name of our own that sorts first, or remove that file by hand if it is a leftover", cfg.confPath(), pluginType)
	}
	return nil
}
