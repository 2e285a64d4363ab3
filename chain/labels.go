package chain

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/cilium/cilium/api/v1/models"
)

// LabelArgPrefix marks a CNI_ARGS pair as a pod label: CILIUM_LABEL_app=web → <label-source>:app=web.
const LabelArgPrefix = "CILIUM_LABEL_"

var labelSourceRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// label is one Cilium label, "source:key=value".
type label struct{ Source, Key, Value string }

func (l label) String() string { return l.Source + ":" + l.Key + "=" + l.Value }

// parseLabel parses "source:key=value", "source:key" or "key=value" (source defaults to defSource).
func parseLabel(s, defSource string) (label, error) {
	l := label{Source: defSource}
	kv := s
	if src, rest, ok := strings.Cut(s, ":"); ok && labelSourceRE.MatchString(src) && !strings.Contains(src, "=") {
		l.Source, kv = src, rest
	}
	if l.Source == "reserved" {
		// Reserved labels (host, world, health…) are the agent's own; accepting one would let a pod
		// claim the host's identity.
		return label{}, fmt.Errorf("label %q: source \"reserved\" is not allowed", s)
	}
	l.Key, l.Value, _ = strings.Cut(kv, "=")
	if err := checkLabelPart("key", l.Key, true); err != nil {
		return label{}, fmt.Errorf("label %q: %w", s, err)
	}
	if err := checkLabelPart("value", l.Value, false); err != nil {
		return label{}, fmt.Errorf("label %q: %w", s, err)
	}
	return l, nil
}

func checkLabelPart(what, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(s) > 253 {
		return fmt.Errorf("%s longer than 253 characters", what)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '=' || r == ';' {
			return fmt.Errorf("%s contains %q", what, r)
		}
	}
	return nil
}

// endpointLabels merges, in increasing precedence, CILIUM_LABEL_<key> pairs whose key the operator
// allowed (label-args), args-labels (CNI_ARGS the operator mapped to label keys) and the conflist's
// labels: for the same source:key the operator's word wins over the workload's. Whoever sets CNI_ARGS
// (a Nomad job, a Multus cni-args annotation) may be the workload itself, so CILIUM_LABEL_ pairs never
// choose a source and never yield reserved: or k8s: labels. It returns the labels sorted (for stable
// identities) and the CILIUM_LABEL_ pairs it dropped, for the log.
func endpointLabels(conf *Config, args *podArgs) (models.Labels, []string, error) {
	byKey := map[string]label{}
	add := func(l label) { byKey[l.Source+":"+l.Key] = l }
	var dropped []string

	for _, arg := range sortedKeys(args.All) {
		key, ok := strings.CutPrefix(arg, LabelArgPrefix)
		if !ok {
			continue
		}
		if !labelArgAllowed(conf, key) {
			dropped = append(dropped, arg)
			continue
		}
		l := label{Source: conf.LabelSource, Key: key, Value: args.All[arg]}
		err := checkLabelPart("key", l.Key, true)
		if err == nil && strings.Contains(l.Key, ":") {
			err = fmt.Errorf("key %q contains \":\" (a source cannot be set through CNI_ARGS)", l.Key)
		}
		if err == nil {
			err = checkLabelPart("value", l.Value, false)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: CNI_ARGS %s: %w", ErrInvalidEnv, arg, err)
		}
		add(l)
	}
	for _, arg := range sortedKeys(conf.ArgsLabels) {
		v, ok := args.All[arg]
		if !ok {
			continue
		}
		l, err := parseLabel(conf.ArgsLabels[arg]+"="+v, conf.LabelSource)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: CNI_ARGS %s: %w", ErrInvalidEnv, arg, err)
		}
		add(l)
	}
	for _, s := range conf.Labels {
		l, err := parseLabel(s, conf.LabelSource)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: key \"labels\": %w", ErrInvalidConfig, err)
		}
		add(l)
	}

	out := make(models.Labels, 0, len(byKey))
	for _, l := range byKey {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return out, dropped, nil
}

// podLabels is endpointLabels for this call, logging the CILIUM_LABEL_ pairs it dropped.
func (c *Call) podLabels() (models.Labels, error) {
	labels, dropped, err := endpointLabels(c.Conf, c.Args)
	if len(dropped) > 0 {
		c.Log.WithField("args", dropped).Warn("ignoring CILIUM_LABEL_ CNI_ARGS the conflist's label-args does not allow")
	}
	return labels, err
}

// labelArgAllowed: label-args lists the keys CILIUM_LABEL_ may set ("*": any). Never under the
// k8s source: those labels are what Kubernetes policies select on, and only the operator (through
// args-labels or labels) may set them.
func labelArgAllowed(conf *Config, key string) bool {
	if conf.LabelSource == "k8s" {
		return false
	}
	for _, k := range conf.LabelArgs {
		if k == "*" || k == key {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
