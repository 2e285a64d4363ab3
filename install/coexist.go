package main

import (
	"encoding/json"
	"reflect"
	"slices"
)

// Other installers add their own plugin to the highest-priority conflist, which is ours: Istio CNI
// (chained mode) removes its "istio-cni" entry and appends a fresh one, re-encoding the whole file;
// Linkerd's installer does the same with "linkerd-cni" on every *.conflist that changes. Their entries
// are kept where they put them, and a file that differs from ours only by them is ours: no rewrite,
// no fight, so both converge at once.

// chainFile is a conflist split into its top-level fields and its plugin entries.
type chainFile struct {
	top     *object
	plugins []json.RawMessage
	types   []string
}

func parseChain(data []byte) (*chainFile, bool) {
	top := newObject()
	if json.Unmarshal(data, top) != nil {
		return nil, false
	}
	raw, ok := top.get("plugins")
	if !ok {
		return nil, false
	}
	c := &chainFile{top: top}
	if json.Unmarshal(raw, &c.plugins) != nil {
		return nil, false
	}
	for _, p := range c.plugins {
		var t struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(p, &t) != nil {
			return nil, false
		}
		c.types = append(c.types, t.Type)
	}
	return c, true
}

// ours is the index of our entry, -1 without one.
func (c *chainFile) ours() int { return slices.Index(c.types, pluginType) }

// foreign reports whether entry i is another installer's: neither ours, nor Cilium's, nor of a type
// the wanted chain has.
func (c *chainFile) foreign(i int, want *chainFile) bool {
	t := c.types[i]
	return t != pluginType && t != upstreamType && !slices.Contains(want.types, t)
}

// acceptable reports whether cur is want with at most other installers' entries added (and ours not
// moved before the plugin that creates the interface), compared by meaning, not bytes.
func acceptable(want, cur []byte) bool {
	w, ok := parseChain(want)
	if !ok {
		return false
	}
	c, ok := parseChain(cur)
	if !ok || len(w.plugins) == 0 {
		return false
	}
	if !sameFields(w.top, c.top, "plugins") {
		return false
	}
	var wantRest, curRest []json.RawMessage
	for i, p := range w.plugins {
		if w.types[i] != pluginType {
			wantRest = append(wantRest, p)
		}
	}
	first := -1 // where the wanted chain's first plugin is in cur
	for i, p := range c.plugins {
		if c.types[i] == pluginType || c.foreign(i, w) {
			continue
		}
		if first < 0 {
			first = i
		}
		curRest = append(curRest, p)
	}
	wo, co := w.ours(), c.ours()
	if wo < 0 || co < 0 || co <= first || slices.Index(c.types[co+1:], pluginType) >= 0 {
		return false
	}
	if !sameJSON(w.plugins[wo], c.plugins[co]) || len(wantRest) != len(curRest) {
		return false
	}
	for i := range wantRest {
		if !sameJSON(wantRest[i], curRest[i]) {
			return false
		}
	}
	return true
}

// withForeign returns want with cur's foreign entries: those before our entry in cur just before
// ours, the others just after it, in their order. want itself when there are none.
func withForeign(want, cur []byte) []byte {
	w, ok := parseChain(want)
	c, cok := parseChain(cur)
	if !ok || !cok || w.ours() < 0 {
		return want
	}
	var before, after []json.RawMessage
	co := c.ours()
	for i, p := range c.plugins {
		if !c.foreign(i, w) {
			continue
		}
		if co >= 0 && i < co {
			before = append(before, p)
		} else {
			after = append(after, p)
		}
	}
	if len(before)+len(after) == 0 {
		return want
	}
	wo := w.ours()
	var plugins []json.RawMessage
	plugins = append(plugins, w.plugins[:wo]...)
	plugins = append(plugins, before...)
	plugins = append(plugins, w.plugins[wo])
	plugins = append(plugins, after...)
	plugins = append(plugins, w.plugins[wo+1:]...)
	b, err := marshal(plugins)
	if err != nil {
		return want
	}
	w.top.set("plugins", b)
	out, err := encodeIndented(w.top)
	if err != nil {
		return want
	}
	return out
}

// sameFields compares two objects' fields by meaning, ignoring except.
func sameFields(a, b *object, except string) bool {
	count := 0
	for _, k := range a.keys {
		if k == except {
			continue
		}
		count++
		bv, ok := b.get(k)
		if !ok || !sameJSON(a.vals[k], bv) {
			return false
		}
	}
	for _, k := range b.keys {
		if k != except {
			count--
		}
	}
	return count == 0
}

// sameJSON compares two JSON values by meaning: key order, spacing and number spelling do not matter
// (other installers re-encode the whole file).
func sameJSON(a, b json.RawMessage) bool {
	var av, bv any
	if json.Unmarshal(a, &av) != nil || json.Unmarshal(b, &bv) != nil {
		return false
	}
	return reflect.DeepEqual(av, bv)
}
