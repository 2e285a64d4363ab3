package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/version"
)

// chainableVersions are the CNI versions whose chained plugins get a prevResult; older ones cannot
// chain, newer ones are unknown to the libraries the plugin is built with.
var chainableVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// deriveConflist returns primary with our entry in the plugin chain. primary is a conflist, or a
// single-plugin .conf/.json when lift is set, which becomes a one-plugin conflist (as libcni does).
// The network name and cniVersion stay the primary's: the runtime's result cache and host-local's
// store are keyed by name, so renaming would orphan every pod added before us. Every other field,
// known or not, is copied as raw JSON.
func deriveConflist(primary []byte, lift bool, entry json.RawMessage) ([]byte, error) {
	top, err := primaryAsList(primary, lift)
	if err != nil {
		return nil, err
	}
	topBytes, err := top.MarshalJSON()
	if err != nil {
		return nil, err
	}
	// libcni is what the runtime will parse our file with: let it judge the primary first.
	net, err := libcni.ConfListFromBytes(topBytes)
	if err != nil {
		return nil, err
	}
	if net.Name == "" {
		return nil, errors.New("the network has an empty name")
	}
	if !slices.Contains(chainableVersions, net.CNIVersion) {
		return nil, fmt.Errorf("cniVersion %q cannot be chained (need one of %v)", net.CNIVersion, chainableVersions)
	}
	rawPlugins, _ := top.get("plugins")
	var plugins []json.RawMessage
	if err := json.Unmarshal(rawPlugins, &plugins); err != nil || len(plugins) == 0 {
		return nil, errors.New(`"plugins" is not a non-empty list`)
	}
	chain, err := placeEntry(plugins, entry)
	if err != nil {
		return nil, err
	}
	top.set("plugins", chain)
	out, err := encodeIndented(top)
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	if _, err := libcni.ConfListFromBytes(out); err != nil {
		return nil, fmt.Errorf("derived conflist does not parse: %w", err)
	}
	return out, nil
}

// primaryAsList parses a conflist, or lifts a single plugin config into one the way libcni's
// ConfListFromConf does: the plugin keeps its bytes (name and cniVersion included).
func primaryAsList(primary []byte, lift bool) (*object, error) {
	if !lift {
		top := newObject()
		if err := json.Unmarshal(primary, top); err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
		if _, ok := top.get("plugins"); !ok {
			return nil, errors.New(`a conflist needs a "plugins" list`)
		}
		return top, nil
	}
	plugin := newObject()
	if err := json.Unmarshal(primary, plugin); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := libcni.NetworkPluginConfFromBytes(primary); err != nil {
		return nil, err
	}
	top := newObject()
	for _, k := range []string{"cniVersion", "name"} {
		if v, ok := plugin.get(k); ok {
			top.set(k, v)
		}
	}
	compact := &bytes.Buffer{}
	if err := json.Compact(compact, primary); err != nil {
		return nil, err
	}
	top.set("plugins", json.RawMessage("["+compact.String()+"]"))
	return top, nil
}

// placeEntry puts our entry where the first cilium-chain or cilium-cni entry was and drops any
// other ones; with none, or when that one was first (nothing before it to hand us a prevResult), at the end.
func placeEntry(plugins []json.RawMessage, entry json.RawMessage) (json.RawMessage, error) {
	var kept []json.RawMessage
	at := -1
	for i, p := range plugins {
		var t struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(p, &t); err != nil {
			return nil, fmt.Errorf("plugin %d: %w", i, err)
		}
		if t.Type != pluginType && t.Type != upstreamType {
			kept = append(kept, p)
			continue
		}
		if at < 0 {
			at = len(kept)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no plugin besides %s/%s: nothing to chain onto", pluginType, upstreamType)
	}
	if at <= 0 {
		at = len(kept)
	}
	chain := slices.Insert(kept, at, entry)
	out, err := marshal(chain)
	if err != nil {
		return nil, fmt.Errorf("encode plugins: %w", err)
	}
	return out, nil
}

// validateCustom checks a user-given conflist before we install it as is.
func validateCustom(data []byte) error {
	net, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return err
	}
	if net.Name == "" {
		return errors.New("the network has an empty name")
	}
	if len(net.Plugins) == 0 {
		return errors.New(`no inline "plugins"`)
	}
	if !slices.Contains(chainableVersions, net.CNIVersion) {
		return fmt.Errorf("cniVersion %q cannot be chained (need one of %v)", net.CNIVersion, chainableVersions)
	}
	known := version.All.SupportedVersions()
	ours := -1
	for i, p := range net.Plugins {
		if v := p.Network.CNIVersion; v != "" && !slices.Contains(known, v) {
			return fmt.Errorf("plugin %d (%s) has unknown cniVersion %q", i, p.Network.Type, v)
		}
		if p.Network.Type != pluginType {
			continue
		}
		if ours >= 0 {
			return fmt.Errorf("more than one %s entry (plugins %d and %d)", pluginType, ours, i)
		}
		ours = i
	}
	switch ours {
	case -1:
		return fmt.Errorf("no %q entry", pluginType)
	case 0:
		return fmt.Errorf("%s is the first plugin: it needs a plugin before it that creates the interface", pluginType)
	}
	return nil
}

// holdsOurEntry reports whether a conflist chains our plugin (so removing it on exit is ours to do).
func holdsOurEntry(data []byte) bool {
	net, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return false
	}
	for _, p := range net.Plugins {
		if p.Network.Type == pluginType {
			return true
		}
	}
	return false
}

// customConflist is custom mode's input made ready to write: Cilium's own shape (a cilium-cni entry,
// as in its Helm chart's cni.configMap) gets cilium-chain in its place with the same options, and the
// network name must be the primary's (primaryName; "" when there is none) unless rename says otherwise.
// An input that needs neither change is returned byte for byte.
func customConflist(data []byte, primaryName, rename string) ([]byte, error) {
	top := newObject()
	if err := json.Unmarshal(data, top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	changed := false
	if raw, ok := top.get("plugins"); ok {
		var plugins []*object
		if err := json.Unmarshal(raw, &plugins); err != nil {
			return nil, fmt.Errorf(`"plugins": %w`, err)
		}
		for _, p := range plugins {
			if t, _, _ := p.getString("type"); t == upstreamType {
				if err := p.setValue("type", pluginType); err != nil {
					return nil, err
				}
				changed = true
			}
		}
		if changed {
			b, err := marshal(plugins)
			if err != nil {
				return nil, err
			}
			top.set("plugins", b)
		}
	}
	name, _, err := top.getString("name")
	if err != nil {
		return nil, err
	}
	if primaryName != "" && name != primaryName {
		switch rename {
		case renameUsePrimary:
			if err := top.setValue("name", primaryName); err != nil {
				return nil, err
			}
			changed = true
		case renameAllow:
		default:
			return nil, fmt.Errorf("its network name %q is not the primary's %q: libcni's result cache and host-local's IP store "+
				"are keyed by it, so pods added before would be deleted without their cached result and host-local could "+
				"hand their IPs out again; use the primary's name, or set --custom-name-mismatch", name, primaryName)
		}
	}
	out := data
	if changed {
		if out, err = encodeIndented(top); err != nil {
			return nil, err
		}
	}
	if err := validateCustom(out); err != nil {
		return nil, err
	}
	return out, nil
}
