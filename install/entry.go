package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// pluginType is our CNI type: the binary name the runtime looks up in its bin dir.
const pluginType = "cilium-chain"

// upstreamType is Cilium's own plugin; a primary that already chains it gets ours in its place.
const upstreamType = "cilium-cni"

// pluginEntry renders our {"type": "cilium-chain", ...} entry, leaving out options that are empty.
// It only checks the shape; the plugin's own parser judges the values (pluginconf.go).
func pluginEntry(p pluginFlags) (json.RawMessage, error) {
	e := newObject()
	if err := e.setValue("type", pluginType); err != nil {
		return nil, err
	}
	for _, kv := range []struct{ key, val string }{
		{"socket-path", p.socketPath}, {"log-file", p.logFile}, {"log-level", p.logLevel},
	} {
		if kv.val != "" {
			if err := e.setValue(kv.key, kv.val); err != nil {
				return nil, err
			}
		}
	}
	labels, err := parseLabels(p.labels)
	if err != nil {
		return nil, fmt.Errorf("--plugin-labels: %w", err)
	}
	if len(labels) > 0 {
		if err := e.setValue("labels", labels); err != nil {
			return nil, err
		}
	}
	argsLabels, err := parseArgsLabels(p.argsLabels)
	if err != nil {
		return nil, fmt.Errorf("--plugin-args-labels: %w", err)
	}
	if argsLabels != nil {
		e.set("args-labels", argsLabels)
	}
	if err := mergeExtra(e, p.extraJSON); err != nil {
		return nil, fmt.Errorf("--plugin-extra-json: %w", err)
	}
	return e.MarshalJSON()
}

// parseLabels accepts "k8s:app=web,team=a" or a JSON array of strings.
func parseLabels(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var labels []string
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &labels); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
	} else {
		for _, l := range strings.Split(s, ",") {
			labels = append(labels, strings.TrimSpace(l))
		}
	}
	for _, l := range labels {
		if l == "" {
			return nil, fmt.Errorf("empty label in %q", s)
		}
	}
	return labels, nil
}

// parseArgsLabels accepts "K8S_POD_NAME=k8s:pod,..." or a JSON object and renders a JSON object with
// sorted keys, so the same input always gives the same bytes (and no needless rewrite).
func parseArgsLabels(s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object of strings: %w", err)
		}
	} else {
		for _, pair := range strings.Split(s, ",") {
			name, key, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				return nil, fmt.Errorf("%q is not NAME=label-key", pair)
			}
			m[name] = key
		}
	}
	names := make([]string, 0, len(m))
	for name, key := range m {
		if name == "" || key == "" {
			return nil, fmt.Errorf("empty CNI_ARGS name or label key in %q", s)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	o := newObject()
	for _, name := range names {
		if err := o.setValue(name, m[name]); err != nil {
			return nil, err
		}
	}
	return o.MarshalJSON()
}

// mergeExtra adds the free-form keys after ours; it refuses to override anything already set so a
// ConfigMap typo cannot silently change the type or a flag's value.
func mergeExtra(e *object, s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	extra := newObject()
	if err := json.Unmarshal([]byte(s), extra); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	for _, k := range extra.keys {
		if _, taken := e.get(k); taken {
			return fmt.Errorf("key %q is already set (by the type or a --plugin-* flag)", k)
		}
		e.set(k, extra.vals[k])
	}
	return nil
}
