package chain

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// Config is the plugin's entry in the conflist, as the runtime hands it over on stdin. It is the one
// definition of the keys: the json tag is the key, the default tag its default (README's key table is
// checked against both), validate its check. A key with an ignored tag is accepted so an upstream
// cilium-cni entry loads by changing only its "type", and logged at debug level as meaningless here.
type Config struct {
	types.NetConf

	SocketPath     string            `json:"socket-path" default:"/var/run/cilium/cilium.sock"`
	DeleteQueueDir string            `json:"delete-queue-dir" default:"/var/run/cilium/deleteQueue"`
	StateDir       string            `json:"state-dir" default:"/var/run/cilium-chain"`
	Labels         []string          `json:"labels"`
	ArgsLabels     map[string]string `json:"args-labels"`
	LabelArgs      []string          `json:"label-args"`
	ArgsPodName    string            `json:"args-pod-name"`
	ArgsNamespace  string            `json:"args-pod-namespace"`
	LabelSource    string            `json:"label-source" default:"container"`
	AddTimeout     Duration          `json:"add-timeout" default:"60s"`
	DelTimeout     Duration          `json:"del-timeout" default:"10s"`
	CheckTimeout   Duration          `json:"check-timeout" default:"10s"`
	GCTimeout      Duration          `json:"gc-timeout" default:"10s"`
	LogFile        string            `json:"log-file"`
	LogLevel       string            `json:"log-level" default:"info"`
	LogFormat      string            `json:"log-format" default:"text"`
	LogMaxSize     int               `json:"log-max-size" default:"10"`
	LogMaxBackups  int               `json:"log-max-backups" default:"3"`
	EnableDebug    bool              `json:"enable-debug"`
	EnableRouteMTU bool              `json:"enable-route-mtu"`
	ChainingMode   string            `json:"chaining-mode" default:"generic-veth"`

	MTU          json.RawMessage `json:"mtu" ignored:"the primary plugin sets the MTU"`
	ENI          json.RawMessage `json:"eni" ignored:"ENI IPAM is the primary plugin's (aws-cni)"`
	Azure        json.RawMessage `json:"azure" ignored:"Azure IPAM is the primary plugin's"`
	AlibabaCloud json.RawMessage `json:"alibaba-cloud" ignored:"Alibaba Cloud IPAM is the primary plugin's"`
	// Spec keys a chained plugin receives and has no use for.
	Args          json.RawMessage `json:"args"`
	RuntimeConfig json.RawMessage `json:"runtimeConfig"`
	IPMasq        json.RawMessage `json:"ipMasq"`
	Attachments   json.RawMessage `json:"cni.dev/attachments"`
	CNIVersions   json.RawMessage `json:"cniVersions"`

	// PrevResultJSON shadows NetConf's map form of "prevResult": parsed once, straight into the result
	// type of cniVersion (the map would be decoded, re-encoded and decoded again).
	PrevResultJSON json.RawMessage `json:"prevResult"`

	// ValidAttachments is libcni's "cni.dev/valid-attachments" (GC only).
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments"`

	// Unknown are keys this binary does not know, accepted by the lenient verbs (DEL, GC, STATUS).
	Unknown []string `json:"-"`
	// Ignored are the ignored-tag keys present, with why, for a debug log.
	Ignored []string `json:"-"`
}

// Duration is a key's duration, written as Go parses it ("30s", "1500ms").
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not a duration string: %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

const maxTimeout = 10 * time.Minute

// defaults is the configuration with every default tag applied, read once per process.
var defaults = mustDefaults()

// Defaults read from the tags, for the installer's checks and tests that look at records.
var (
	DefaultStateDir       = defaults.StateDir
	DefaultDeleteQueueDir = defaults.DeleteQueueDir
)

// Defaults is the configuration with every default applied and nothing else.
func Defaults() *Config {
	conf := *defaults
	return &conf
}

func mustDefaults() *Config {
	conf := &Config{}
	if err := setDefaults(conf); err != nil {
		panic(err) // a malformed default tag: a programming error every test catches
	}
	return conf
}

// chainingModes are upstream v1.20.2's names for its generic-veth chainer (plugins/cilium-cni/chaining).
var chainingModes = map[string]bool{"generic-veth": true, "aws-cni": true, "azure": true, "flannel": true}

var logLevels = map[string]bool{"panic": true, "fatal": true, "error": true, "warn": true, "warning": true, "info": true, "debug": true, "trace": true}

// Network names and container IDs follow libcni's rule; they become file names in the state dir.
var safeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// LoadConfig parses and validates the configuration strictly, as ADD and CHECK do: an unknown key is
// an error naming it, which catches typos where they matter. getenv supplies CILIUM_SOCK.
func LoadConfig(stdin []byte, getenv func(string) string) (*Config, error) {
	return loadConfig(stdin, getenv, true)
}

// LoadConfigLenient is LoadConfig for DEL, GC and STATUS: unknown keys (a newer conflist read by an
// older binary, a key the runtime injects) land in Unknown for the log. Tearing a pod down must not
// depend on the binary knowing every key.
func LoadConfigLenient(stdin []byte, getenv func(string) string) (*Config, error) {
	return loadConfig(stdin, getenv, false)
}

func loadConfig(stdin []byte, getenv func(string) string, strict bool) (*Config, error) {
	if len(stdin) == 0 {
		return nil, fmt.Errorf("%w: empty stdin", ErrDecode)
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(stdin, &present); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	conf := Defaults()
	if env := getenv("CILIUM_SOCK"); env != "" {
		conf.SocketPath = env
	}
	keys := make([]string, 0, len(present))
	for k := range present {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := configFields()
	var bad error
	for _, k := range keys {
		f, ok := fields[k]
		switch {
		case !ok:
			conf.Unknown = append(conf.Unknown, k)
			continue
		case f.ignored != "":
			conf.Ignored = append(conf.Ignored, k+": "+f.ignored)
		}
		// Each value into its own field: decoding stdin into the whole struct makes encoding/json
		// build its field tables for Config and NetConf, a cost every CNI call would pay.
		if err := json.Unmarshal(present[k], reflect.ValueOf(conf).Elem().FieldByIndex(f.index).Addr().Interface()); err != nil && bad == nil {
			bad = fmt.Errorf("%w: key %q: %w", ErrInvalidConfig, k, err)
		}
	}
	if strict && len(conf.Unknown) > 0 {
		return nil, fmt.Errorf("%w: unknown key %q", ErrInvalidConfig, conf.Unknown[0])
	}
	if bad != nil {
		return nil, bad
	}
	if _, ok := present["log-level"]; !ok && conf.EnableDebug {
		conf.LogLevel = "debug"
	}
	if err := conf.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return conf, nil
}

// configField is where an accepted key's value goes, and why it is ignored ("" if it is used).
type configField struct {
	index   []int
	ignored string
}

// configFields maps every accepted key (this struct's and the embedded NetConf's json tags) to its
// field. As in encoding/json, a field of Config shadows the embedded NetConf's field of the same key
// (prevResult, cni.dev/valid-attachments); keys match exactly.
func configFields() map[string]configField {
	fields := map[string]configField{}
	t := reflect.TypeFor[Config]()
	var embedded [][]int
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous {
			embedded = append(embedded, f.Index)
		} else if name := jsonKey(f); name != "" {
			fields[name] = configField{index: f.Index, ignored: f.Tag.Get("ignored")}
		}
	}
	for _, outer := range embedded {
		et := t.FieldByIndex(outer).Type
		for i := range et.NumField() {
			f := et.Field(i)
			if name := jsonKey(f); name != "" && fields[name].index == nil {
				fields[name] = configField{index: append(append([]int{}, outer...), i), ignored: f.Tag.Get("ignored")}
			}
		}
	}
	return fields
}

// jsonKey is a field's key in the conflist, "" if it has none.
func jsonKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// setDefaults fills every field from its default tag.
func setDefaults(conf *Config) error {
	v := reflect.ValueOf(conf).Elem()
	for i := range v.NumField() {
		def, ok := v.Type().Field(i).Tag.Lookup("default")
		if !ok {
			continue
		}
		field := v.Field(i)
		var err error
		switch p := field.Addr().Interface().(type) {
		case *string:
			*p = def
		case *int:
			*p, err = strconv.Atoi(def)
		case *Duration:
			p.Duration, err = time.ParseDuration(def)
		default:
			err = fmt.Errorf("no default support for %s", field.Type())
		}
		if err != nil {
			return fmt.Errorf("default of %s: %w", v.Type().Field(i).Name, err)
		}
	}
	return nil
}

// validate checks each key's value; the message names the key.
func (c *Config) validate() error {
	if c.Name == "" || !safeName.MatchString(c.Name) {
		return fmt.Errorf("key \"name\": %q is not a valid network name", c.Name)
	}
	for key, path := range map[string]string{"socket-path": c.SocketPath, "delete-queue-dir": c.DeleteQueueDir, "state-dir": c.StateDir} {
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("key %q: %q is not an absolute path", key, path)
		}
	}
	if !logLevels[c.LogLevel] {
		return fmt.Errorf("key \"log-level\": %q is not one of panic, fatal, error, warn, info, debug, trace", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("key \"log-format\": %q is not text or json", c.LogFormat)
	}
	if c.LogMaxSize < 0 || c.LogMaxBackups < 0 {
		return fmt.Errorf("keys \"log-max-size\", \"log-max-backups\": negative")
	}
	if !chainingModes[c.ChainingMode] {
		return fmt.Errorf("key \"chaining-mode\": %q is not one of generic-veth, aws-cni, azure, flannel (all the generic-veth chainer)", c.ChainingMode)
	}
	for key, d := range map[string]Duration{"add-timeout": c.AddTimeout, "del-timeout": c.DelTimeout, "check-timeout": c.CheckTimeout, "gc-timeout": c.GCTimeout} {
		if d.Duration <= 0 || d.Duration > maxTimeout {
			return fmt.Errorf("key %q: %s is not a duration between 0 and %s (e.g. \"30s\")", key, d.Duration, maxTimeout)
		}
	}
	if !labelSourceRE.MatchString(c.LabelSource) || c.LabelSource == "reserved" {
		return fmt.Errorf("key \"label-source\": %q is not a valid label source", c.LabelSource)
	}
	for _, l := range c.Labels {
		if _, err := parseLabel(l, c.LabelSource); err != nil {
			return fmt.Errorf("key \"labels\": %w", err)
		}
	}
	for arg, key := range c.ArgsLabels {
		if arg == "" || !validArgKey(arg) {
			return fmt.Errorf("key \"args-labels\": %q is not a valid CNI_ARGS name", arg)
		}
		if _, err := parseLabel(key+"=x", c.LabelSource); err != nil {
			return fmt.Errorf("key \"args-labels\": %q: %w", arg, err)
		}
	}
	for _, k := range c.LabelArgs {
		if k != "*" && checkLabelPart("key", k, true) != nil {
			return fmt.Errorf("key \"label-args\": %q is not a label key or \"*\"", k)
		}
	}
	for key, arg := range map[string]string{"args-pod-name": c.ArgsPodName, "args-pod-namespace": c.ArgsNamespace} {
		if arg != "" && !validArgKey(arg) {
			return fmt.Errorf("key %q: %q is not a valid CNI_ARGS name", key, arg)
		}
	}
	return nil
}

// checkSocket rejects a socket path that exists but is not a unix socket (a directory a hostPath
// mount created in its place): ADD cannot succeed until an operator fixes it. A missing socket is
// fine: the agent may be starting. DEL does not call this: it queues instead.
func checkSocket(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	return fmt.Errorf("%w: key \"socket-path\": %q exists and is not a unix socket (a %s)", ErrInvalidConfig, path, fi.Mode().Type())
}
