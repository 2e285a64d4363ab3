package main

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/libcni"

	"github.com/cilium-chain/cilium-chain/chain"
)

// checkWithPlugin runs every cilium-chain entry of a conflist through the plugin's own config parser,
// as the runtime will hand it over (libcni injects the network's name and cniVersion into each
// plugin). An option the plugin refuses, or a network name it cannot use, then fails here, once, in
// the installer's log, instead of failing every pod ADD on the node.
func checkWithPlugin(conflist []byte) error {
	list, err := libcni.ConfListFromBytes(conflist)
	if err != nil {
		return err
	}
	_, err = ourEntries(list)
	return err
}

// ourEntries parses every cilium-chain entry of a network with the plugin's own parser, as the
// runtime hands it over.
func ourEntries(list *libcni.NetworkConfigList) ([]*chain.Config, error) {
	var confs []*chain.Config
	for i, p := range list.Plugins {
		if p.Network.Type != pluginType {
			continue
		}
		injected, err := libcni.InjectConf(p, map[string]any{"name": list.Name, "cniVersion": list.CNIVersion})
		if err != nil {
			return nil, fmt.Errorf("plugin %d: %w", i, err)
		}
		conf, err := chain.LoadConfig(injected.Bytes, func(string) string { return "" })
		if err != nil {
			return nil, fmt.Errorf("the %s plugin would refuse its entry: %w", pluginType, err)
		}
		confs = append(confs, conf)
	}
	return confs, nil
}

// checkEntry validates the rendered entry alone, at start-up, inside a placeholder network.
func checkEntry(entry json.RawMessage) error {
	list := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"entry-check","plugins":[{"type":"bridge"},%s]}`, entry)
	return checkWithPlugin([]byte(list))
}
