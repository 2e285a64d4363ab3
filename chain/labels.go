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

// endpointLabels merges, in increasing precedence, the conflist labels, args-labels and CILIUM_LABEL_*
// pairs. A later source overrides an earlier one for the same source:key. Sorted, for stable identities.
func endpointLabels(conf *Config, args *podArgs) (models.Labels, error) {
	byKey := map[string]label{}
	add := func(l label) { byKey[l.Source+":"+l.Key] = l }

	for _, s := range conf.Labels {
		l, err := parseLabel(s, conf.LabelSource)
		if err != nil {
			return nil, fmt.Errorf("%w: key \"labels\": %w", ErrInvalidConfig, err)
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
			return nil, fmt.Errorf("%w: CNI_ARGS %s: %w", ErrInvalidEnv, arg, err)
		}
		add(l)
	}
	for _, arg := range sortedKeys(args.All) {
		key, ok := strings.CutPrefix(arg, LabelArgPrefix)
		if !ok {
			continue
		}
		// The source is always label-source: whoever sets CNI_ARGS names keys, not sources.
		l := label{Source: conf.LabelSource, Key: key, Value: args.All[arg]}
		err := checkLabelPart("key", l.Key, true)
		if err == nil && strings.Contains(l.Key, ":") {
			err = fmt.Errorf("key %q contains \":\" (a source cannot be set through CNI_ARGS)", l.Key)
		}
		if err == nil {
			err = checkLabelPart("value", l.Value, false)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CNI_ARGS %s: %w", ErrInvalidEnv, arg, err)
		}
		add(l)
	}

	out := make(models.Labels, 0, len(byKey))
	for _, l := range byKey {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
