package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/cilium-chain/cilium-chain/chain"
)

// envPrefix turns a flag name into its environment variable: --conf-dir is CILIUM_CHAIN_CONF_DIR.
const envPrefix = "CILIUM_CHAIN_"

const (
	modeDerived = "derived"
	modeCustom  = "custom"
)

// What custom mode does with a conflist whose network name is not the primary's.
const (
	renameRefuse     = "refuse"      // not written; not ready (the default)
	renameUsePrimary = "use-primary" // written with the primary's name
	renameAllow      = "allow"       // written as given: the operator accepts what a rename does
)

// config is everything the installer is told, from flags or their environment variables.
type config struct {
	mode           string
	confDir        string
	confName       string
	primaryNetwork string
	customConflist string
	customRename   string
	runtime        string

	binarySource    string
	binDir          string
	binaryName      string
	uninstallBinary bool
	keepOnExit      bool

	plugin pluginFlags

	waitForAgent  bool
	agentSocket   string
	agentInterval time.Duration

	readyAddr string
	readyFile string

	adopt       bool
	cniCacheDir string
	stateDir    string

	repair          bool
	repairMethod    string
	repairBarePods  bool
	repairPerMinute int
	repairAPIServer string
	nodeName        string

	debounce       time.Duration
	settle         time.Duration
	resync         time.Duration
	fightThreshold int
	fightWindow    time.Duration
	fightBackoff   time.Duration

	logLevel  string
	logFormat string
}

// pluginFlags are the raw options for our entry in the conflist; entry.go validates and renders them.
type pluginFlags struct {
	socketPath string
	logFile    string
	logLevel   string
	labels     string
	argsLabels string
	extraJSON  string
}

// flagDoc remembers which section a flag belongs to so --help can group them.
type flagDoc struct {
	section string
	name    string
}

// flags wraps a FlagSet and records sections and env names for --help.
type flags struct {
	fs      *flag.FlagSet
	section string
	docs    []flagDoc
}

func (f *flags) add(name string) { f.docs = append(f.docs, flagDoc{section: f.section, name: name}) }

func (f *flags) str(p *string, name, def, usage string) {
	f.fs.StringVar(p, name, def, usage)
	f.add(name)
}

func (f *flags) boolean(p *bool, name string, def bool, usage string) {
	f.fs.BoolVar(p, name, def, usage)
	f.add(name)
}

func (f *flags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, def, usage)
	f.add(name)
}

func (f *flags) integer(p *int, name string, def int, usage string) {
	f.fs.IntVar(p, name, def, usage)
	f.add(name)
}

// envName is the environment variable that sets a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlags declares every flag with its default. Defaults are the paths inside the DaemonSet's container.
func newFlags(cfg *config) *flags {
	f := &flags{fs: flag.NewFlagSet("cilium-chain-install", flag.ContinueOnError)}

	f.section = "Conflist"
	f.str(&cfg.mode, "mode", modeDerived,
		"derived: chain onto the node's primary network; custom: write the conflist given by --custom-conflist")
	f.str(&cfg.confDir, "conf-dir", "/host/etc/cni/net.d", "the host's CNI conf dir, as mounted in the container")
	f.str(&cfg.confName, "conf-name", "05-cilium.conflist",
		"file name of our conflist; it must sort before the primary's so the runtime picks it")
	f.str(&cfg.primaryNetwork, "primary-network", "",
		"derived mode: chain onto the network with this name (like Cilium's cni-chaining-target);\nempty picks the first valid config in file order, as the runtime does")
	f.str(&cfg.customConflist, "custom-conflist", "/etc/cilium-chain/custom-conflist",
		"custom mode: path of the full conflist to install (a mounted ConfigMap key, e.g. Cilium's cni-config);\ncilium-cni entries become cilium-chain entries with the same options")
	f.str(&cfg.customRename, "custom-name-mismatch", renameRefuse,
		"custom mode, when the conflist's network name is not the primary's: refuse (not written, not ready),\nuse-primary (written with the primary's name), or allow (written as given; pods added before\nlose their libcni cache entry and host-local may hand their IPs out again)")
	f.str(&cfg.runtime, "container-runtime", runtimeContainerd,
		"whose conf dir rules decide what the node runs (the installer's readiness, the doctor's findings):\ncontainerd (go-cni runs the lexically first file; an invalid one fails the node's CNI) or crio (CRI-O skips\ninvalid files and files whose plugin binaries are missing or do not speak the cniVersion)")

	f.section = "Plugin binary"
	f.str(&cfg.binarySource, "binary-source", "/opt/cilium-chain/bin/cilium-chain", "the plugin binary shipped in the image")
	f.str(&cfg.binDir, "bin-dir", "/host/opt/cni/bin", "the host's CNI bin dir, as mounted in the container")
	f.str(&cfg.binaryName, "binary-name", "cilium-chain", "file name in --bin-dir; it is the plugin's CNI type")
	f.boolean(&cfg.uninstallBinary, "uninstall-binary", false, "on SIGTERM also remove the plugin binary (only if it is still ours)")
	f.boolean(&cfg.keepOnExit, "keep-on-exit", true,
		"on SIGTERM keep our conflist (a restart or upgrade never leaves pods without policy);\n--keep-on-exit=false removes it, for uninstalling")

	f.section = "Options of our conflist entry (omitted from the entry when empty)"
	f.str(&cfg.plugin.socketPath, "plugin-socket-path", "", `"socket-path": the agent's API socket as seen by the plugin on the host`)
	f.str(&cfg.plugin.logFile, "plugin-log-file", "", `"log-file": where the plugin logs on the host`)
	f.str(&cfg.plugin.logLevel, "plugin-log-level", "", `"log-level": the plugin's log level (e.g. debug, info, warn)`)
	f.str(&cfg.plugin.labels, "plugin-labels", "",
		`"labels": endpoint labels, comma-separated or a JSON array, each [source:]key[=value]`)
	f.str(&cfg.plugin.argsLabels, "plugin-args-labels", "",
		`"args-labels": CNI_ARGS name to label key, NAME=[source:]key pairs comma-separated or a JSON object`)
	f.str(&cfg.plugin.extraJSON, "plugin-extra-json", "",
		"a JSON object of further plugin keys (e.g. {\"add-timeout\": \"30s\"}); it may not set \"type\" or a key\nset by the flags above. Every option is checked with the plugin's own parser before anything is written")

	f.section = "Agent gate"
	f.boolean(&cfg.waitForAgent, "wait-for-agent", false,
		"write the conflist only once the Cilium agent's GET /v1/healthz answers 200 on --agent-socket")
	f.str(&cfg.agentSocket, "agent-socket", "/var/run/cilium/cilium.sock", "the agent's API socket, as mounted in the container")
	f.duration(&cfg.agentInterval, "agent-interval", time.Second, "how often to ask the agent while waiting")

	f.section = "Adoption (install/README.md#adoption); doctor reads the same paths"
	f.boolean(&cfg.adopt, "adopt", true,
		"register the pods that run without a Cilium endpoint (started before our conflist, e.g. before the install)\n"+
			"from the runtime's libcni cache, as ADD would have; false only reports them (in /readyz and the log)")
	f.str(&cfg.cniCacheDir, "cni-cache-dir", "/host/var/lib/cni", "libcni's cache dir on the host, as mounted (attachments are in its results/)")
	f.str(&cfg.stateDir, "state-dir", "/host"+chain.DefaultStateDir, "the plugin's state-dir on the host, as mounted (its own attachment records)")

	f.section = "Repair (install/README.md#repair): restart what adoption cannot bring under policy; needs API credentials"
	f.boolean(&cfg.repair, "repair", false,
		"evict (or delete) this node's pods that adoption reports unmanaged, so their controller recreates them\n"+
			"through our chain; off: only report them. Needs the chart's repair RBAC and --node-name")
	f.str(&cfg.repairMethod, "repair-method", repairEvict,
		"evict: the Eviction API (honours PodDisruptionBudgets); delete: delete the pod outright")
	f.boolean(&cfg.repairBarePods, "repair-bare-pods", false, "also restart pods no controller recreates (they are gone for good)")
	f.integer(&cfg.repairPerMinute, "repair-per-minute", 3, "at most this many pods restarted per minute on this node")
	f.str(&cfg.repairAPIServer, "repair-api-server", "",
		"the API server as https://host:port; empty: the in-cluster address (KUBERNETES_SERVICE_HOST/PORT)")
	f.str(&cfg.nodeName, "node-name", "", "this node's name (the chart sets it from spec.nodeName); repair acts only on its pods")

	f.section = "Readiness"
	f.str(&cfg.readyAddr, "ready-addr", "127.0.0.1:9887",
		"serve GET /readyz here (200 once the binary and our conflist are in place); empty disables")
	f.str(&cfg.readyFile, "ready-file", "", "also create this file while ready and remove it otherwise; empty disables")

	f.section = "Watching"
	f.duration(&cfg.debounce, "debounce", 150*time.Millisecond, "wait this long after the last conf dir event before acting")
	f.duration(&cfg.settle, "settle", 300*time.Millisecond,
		"a vanished or switched primary must stay so this long before we follow it (rides out non-atomic rewrites)")
	f.duration(&cfg.resync, "resync", 10*time.Second, "re-check everything this often even without events")
	f.integer(&cfg.fightThreshold, "fight-threshold", 5,
		"back off after another writer changed our conflist this many times within --fight-window")
	f.duration(&cfg.fightWindow, "fight-window", time.Minute, "see --fight-threshold")
	f.duration(&cfg.fightBackoff, "fight-backoff", 5*time.Minute, "how long to leave our conflist alone after a fight")

	f.section = "Logging"
	f.str(&cfg.logLevel, "log-level", "info", "installer log level: debug, info, warn, error")
	f.str(&cfg.logFormat, "log-format", "text", "installer log format: text or json")
	return f
}

// parseConfig reads the environment first and the command line second, so a flag beats its variable.
func parseConfig(args []string, lookupEnv func(string) (string, bool), usageOut io.Writer) (*config, error) {
	cfg := &config{}
	if err := newFlags(cfg).parse(args, lookupEnv, usageOut, helpIntro); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse sets the flags from the environment, then from args; --help prints intro and the flags.
func (f *flags) parse(args []string, lookupEnv func(string) (string, bool), usageOut io.Writer, intro string) error {
	f.fs.SetOutput(io.Discard)
	f.fs.Usage = func() {}
	for _, d := range f.docs {
		// An empty variable counts as unset, so a ConfigMap can list every key with "" for the default.
		if v, ok := lookupEnv(envName(d.name)); ok && v != "" {
			if err := f.fs.Set(d.name, v); err != nil {
				return fmt.Errorf("environment variable %s: %w", envName(d.name), err)
			}
		}
	}
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.usage(usageOut, intro)
		}
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (every option is a --flag)", f.fs.Args())
	}
	return nil
}

func (c *config) validate() error {
	switch c.mode {
	case modeDerived, modeCustom:
	default:
		return fmt.Errorf("--mode must be %q or %q, not %q", modeDerived, modeCustom, c.mode)
	}
	if c.mode == modeCustom && c.customConflist == "" {
		return errors.New("--mode=custom needs --custom-conflist")
	}
	switch c.customRename {
	case renameRefuse, renameUsePrimary, renameAllow:
	default:
		return fmt.Errorf("--custom-name-mismatch must be %s, %s or %s, not %q", renameRefuse, renameUsePrimary, renameAllow, c.customRename)
	}
	switch c.runtime {
	case runtimeContainerd, runtimeCRIO:
	default:
		return fmt.Errorf("--container-runtime must be %s or %s, not %q", runtimeContainerd, runtimeCRIO, c.runtime)
	}
	if ext := filepath.Ext(c.confName); ext != ".conflist" || filepath.Base(c.confName) != c.confName {
		return fmt.Errorf("--conf-name must be a plain file name ending in .conflist, not %q", c.confName)
	}
	if c.binaryName == "" || filepath.Base(c.binaryName) != c.binaryName {
		return fmt.Errorf("--binary-name must be a plain file name, not %q", c.binaryName)
	}
	for name, d := range map[string]time.Duration{
		"--debounce": c.debounce, "--resync": c.resync, "--fight-window": c.fightWindow,
		"--fight-backoff": c.fightBackoff, "--agent-interval": c.agentInterval,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive, not %s", name, d)
		}
	}
	if c.keepOnExit && c.uninstallBinary {
		return errors.New("--uninstall-binary needs --keep-on-exit=false: a kept conflist would name a missing plugin")
	}
	if c.settle < 0 {
		return fmt.Errorf("--settle must not be negative, not %s", c.settle)
	}
	if c.repair {
		if c.repairMethod != repairEvict && c.repairMethod != repairDelete {
			return fmt.Errorf("--repair-method must be %q or %q, not %q", repairEvict, repairDelete, c.repairMethod)
		}
		if c.nodeName == "" {
			return errors.New("--repair needs --node-name (CILIUM_CHAIN_NODE_NAME): repair acts only on this node's pods")
		}
		if c.repairPerMinute < 1 {
			return fmt.Errorf("--repair-per-minute must be at least 1, not %d", c.repairPerMinute)
		}
	}
	if c.fightThreshold < 1 {
		return fmt.Errorf("--fight-threshold must be at least 1, not %d", c.fightThreshold)
	}
	return nil
}

// confPath is where our conflist lives.
func (c *config) confPath() string { return filepath.Join(c.confDir, c.confName) }

// binaryPath is where the plugin binary lives on the host.
func (c *config) binaryPath() string { return filepath.Join(c.binDir, c.binaryName) }

const helpIntro = `cilium-chain-install puts the cilium-chain CNI plugin on a node and keeps it chained.

It copies the plugin binary into the host's CNI bin dir, then writes a conflist into the host's CNI
conf dir and keeps it right for as long as it runs:

  derived mode (default)  finds the node's primary network the way the container runtime does (the
                          lexically first valid .conf/.conflist/.json in --conf-dir, skipping our own
                          file, or the one named --primary-network), and writes --conf-name = that
                          network with a {"type": "cilium-chain"} entry appended (or in place of an
                          existing cilium-chain/cilium-cni entry). The network name and
                          cniVersion are kept: the runtime's cache and host-local IPAM are keyed by name.
  custom mode             validates the conflist at --custom-conflist and writes it unchanged.

It watches the conf dir: a changed primary is re-chained within a second; a primary that cannot be
chained leaves our last good file in place (not ready, with the reason); only when no other config is
left at all is ours removed. Plugin entries other installers add to our file (istio-cni, linkerd-cni)
are kept; another process that keeps undoing our entry makes us back off with a warning.
On SIGTERM/SIGINT it keeps our conflist; --keep-on-exit=false removes it (and the binary with
--uninstall-binary): that is the uninstall.

Every flag can also be set through the environment variable shown next to it; a flag beats its
variable, and an empty variable counts as unset.

Subcommands: doctor (check this node and say what is wrong; doctor --help) and uninstall (what the
Helm chart's post-delete hook runs on every node; uninstall --help).
`

// usage prints the flags grouped by section, each with its environment variable and default.
func (f *flags) usage(w io.Writer, intro string) {
	fmt.Fprint(w, intro)
	section := ""
	for _, d := range f.docs {
		if d.section != section {
			section = d.section
			fmt.Fprintf(w, "\n%s:\n", section)
		}
		fl := f.fs.Lookup(d.name)
		def := fl.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n", d.name, envName(d.name), def)
		for _, line := range strings.Split(fl.Usage, "\n") {
			fmt.Fprintf(w, "        %s\n", line)
		}
	}
}
