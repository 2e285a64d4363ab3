package chain

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// Defaults, documented in the README.
const (
	DefaultSocketPath     = "/var/run/cilium/cilium.sock"
	DefaultDeleteQueueDir = "/var/run/cilium/deleteQueue"
	// DefaultStateDir is on tmpfs: a record lives exactly as long as the endpoint it describes, and
	// endpoints do not survive a reboot (their veths do not). tmpfs also spares every ADD a disk write.
	DefaultStateDir     = "/var/run/cilium-chain"
	DefaultLabelSource  = "container"
	DefaultAddTimeout   = 60 * time.Second
	DefaultDelTimeout   = 10 * time.Second
	DefaultCheckTimeout = 10 * time.Second

	maxTimeout = 10 * time.Minute
)

// Config is the plugin's entry in the conflist, as the runtime hands it over on stdin.
type Config struct {
	types.NetConf

	SocketPath     string
	LogFile        string
	LogLevel       string
	LogFormat      string
	Labels         []string
	ArgsLabels     map[string]string
	LabelSource    string
	AddTimeout     time.Duration
	DelTimeout     time.Duration
	CheckTimeout   time.Duration
	DeleteQueueDir string
	StateDir       string
	EnableRouteMTU bool

	// ValidAttachments is libcni's "cni.dev/valid-attachments" (GC only).
	ValidAttachments []types.GCAttachment
}

// rawConfig mirrors the JSON keys. Pointers tell "absent" from "zero".
type rawConfig struct {
	types.NetConf

	SocketPath     *string           `json:"socket-path"`
	LogFile        *string           `json:"log-file"`
	LogLevel       *string           `json:"log-level"`
	LogFormat      *string           `json:"log-format"`
	EnableDebug    *bool             `json:"enable-debug"`
	Labels         []string          `json:"labels"`
	ArgsLabels     map[string]string `json:"args-labels"`
	LabelSource    *string           `json:"label-source"`
	AddTimeout     *string           `json:"add-timeout"`
	DelTimeout     *string           `json:"del-timeout"`
	CheckTimeout   *string           `json:"check-timeout"`
	DeleteQueueDir *string           `json:"delete-queue-dir"`
	StateDir       *string           `json:"state-dir"`
	EnableRouteMTU *bool             `json:"enable-route-mtu"`
	ChainingMode   *string           `json:"chaining-mode"`
	MTU            *int              `json:"mtu"`

	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments"`
}

// knownKeys are accepted; anything else is a typo the operator wants to hear about. The CNI keys are
// the spec's; chaining-mode, enable-debug, log-format and mtu let an upstream cilium-cni entry work
// by changing only its "type".
var knownKeys = map[string]bool{
	"cniVersion": true, "cniVersions": true, "name": true, "type": true, "args": true, "ipMasq": true,
	"ipam": true, "dns": true, "prevResult": true, "runtimeConfig": true, "capabilities": true,
	"cni.dev/valid-attachments": true, "cni.dev/attachments": true,
	"socket-path": true, "log-file": true, "log-level": true, "log-format": true, "enable-debug": true,
	"labels": true, "args-labels": true, "label-source": true, "add-timeout": true, "del-timeout": true,
	"check-timeout": true, "delete-queue-dir": true, "state-dir": true, "enable-route-mtu": true,
	"chaining-mode": true, "mtu": true,
}

var logLevels = map[string]bool{"panic": true, "fatal": true, "error": true, "warn": true, "warning": true, "info": true, "debug": true, "trace": true}

// Network names and container IDs follow libcni's rule; they become file names in the state dir.
var safeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// LoadConfig parses and validates the network configuration. getenv supplies CILIUM_SOCK.
func LoadConfig(stdin []byte, getenv func(string) string) (*Config, error) {
	if len(stdin) == 0 {
		return nil, fmt.Errorf("%w: empty stdin", ErrDecode)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(stdin, &keys); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if unknown := unknownKeys(keys); len(unknown) > 0 {
		return nil, fmt.Errorf("%w: unknown key %q", ErrInvalidConfig, unknown[0])
	}

	var raw rawConfig
	if err := json.Unmarshal(stdin, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	conf := &Config{NetConf: raw.NetConf}
	if conf.Name == "" || !safeName.MatchString(conf.Name) {
		return nil, fmt.Errorf("%w: key \"name\": %q is not a valid network name", ErrInvalidConfig, conf.Name)
	}
	if err := raw.apply(conf, getenv); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return conf, nil
}

func unknownKeys(keys map[string]json.RawMessage) []string {
	var unknown []string
	for k := range keys {
		if !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown
}

func (raw *rawConfig) apply(conf *Config, getenv func(string) string) error {
	conf.SocketPath = DefaultSocketPath
	if env := getenv("CILIUM_SOCK"); env != "" {
		conf.SocketPath = env
	}
	conf.DeleteQueueDir = DefaultDeleteQueueDir
	conf.StateDir = DefaultStateDir
	conf.LabelSource = DefaultLabelSource
	conf.LogLevel = "info"
	conf.LogFormat = "text"

	for _, p := range []struct {
		key string
		src *string
		dst *string
	}{
		{"socket-path", raw.SocketPath, &conf.SocketPath},
		{"delete-queue-dir", raw.DeleteQueueDir, &conf.DeleteQueueDir},
		{"state-dir", raw.StateDir, &conf.StateDir},
		{"log-file", raw.LogFile, &conf.LogFile},
	} {
		if p.src == nil {
			continue
		}
		if p.key != "log-file" && (*p.src == "" || (*p.src)[0] != '/') {
			return fmt.Errorf("key %q: %q is not an absolute path", p.key, *p.src)
		}
		*p.dst = *p.src
	}
	if err := checkSocketPath(conf.SocketPath); err != nil {
		return err
	}

	if raw.EnableDebug != nil && *raw.EnableDebug {
		conf.LogLevel = "debug"
	}
	if raw.LogLevel != nil {
		if !logLevels[*raw.LogLevel] {
			return fmt.Errorf("key \"log-level\": %q is not one of panic, fatal, error, warn, info, debug, trace", *raw.LogLevel)
		}
		conf.LogLevel = *raw.LogLevel
	}
	if raw.LogFormat != nil {
		if *raw.LogFormat != "text" && *raw.LogFormat != "json" {
			return fmt.Errorf("key \"log-format\": %q is not text or json", *raw.LogFormat)
		}
		conf.LogFormat = *raw.LogFormat
	}
	if raw.ChainingMode != nil && *raw.ChainingMode != "generic-veth" {
		return fmt.Errorf("key \"chaining-mode\": %q is not supported (only generic-veth)", *raw.ChainingMode)
	}
	if raw.MTU != nil && *raw.MTU < 0 {
		return fmt.Errorf("key \"mtu\": %d is negative", *raw.MTU)
	}
	if raw.EnableRouteMTU != nil {
		conf.EnableRouteMTU = *raw.EnableRouteMTU
	}

	if raw.LabelSource != nil {
		if !labelSourceRE.MatchString(*raw.LabelSource) {
			return fmt.Errorf("key \"label-source\": %q is not a valid label source", *raw.LabelSource)
		}
		conf.LabelSource = *raw.LabelSource
	}
	for _, l := range raw.Labels {
		if _, err := parseLabel(l, conf.LabelSource); err != nil {
			return fmt.Errorf("key \"labels\": %w", err)
		}
	}
	conf.Labels = raw.Labels
	for arg, key := range raw.ArgsLabels {
		if arg == "" || !validArgKey(arg) {
			return fmt.Errorf("key \"args-labels\": %q is not a valid CNI_ARGS name", arg)
		}
		if _, err := parseLabel(key+"=x", conf.LabelSource); err != nil {
			return fmt.Errorf("key \"args-labels\": %q: %w", arg, err)
		}
	}
	conf.ArgsLabels = raw.ArgsLabels

	for _, t := range []struct {
		key string
		src *string
		dst *time.Duration
		def time.Duration
	}{
		{"add-timeout", raw.AddTimeout, &conf.AddTimeout, DefaultAddTimeout},
		{"del-timeout", raw.DelTimeout, &conf.DelTimeout, DefaultDelTimeout},
		{"check-timeout", raw.CheckTimeout, &conf.CheckTimeout, DefaultCheckTimeout},
	} {
		*t.dst = t.def
		if t.src == nil {
			continue
		}
		d, err := time.ParseDuration(*t.src)
		if err != nil || d <= 0 || d > maxTimeout {
			return fmt.Errorf("key %q: %q is not a duration between 0 and %s (e.g. \"30s\")", t.key, *t.src, maxTimeout)
		}
		*t.dst = d
	}
	conf.ValidAttachments = raw.ValidAttachments
	return nil
}

// checkSocketPath rejects a path that exists but is not a unix socket: no amount of retrying helps.
// A missing socket is fine here: the agent may be starting.
func checkSocketPath(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("key \"socket-path\": %q is not a unix socket", path)
	}
	return nil
}
