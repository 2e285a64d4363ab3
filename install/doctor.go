package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/containernetworking/cni/libcni"

	"github.com/cilium-chain/cilium-chain/chain"
)

// doctorConfig is the installer's config (the same flags and CILIUM_CHAIN_* variables, so `kubectl
// exec ds/cilium-chain -- cilium-chain-install doctor` sees what the installer sees) plus the
// doctor's own options.
type doctorConfig struct {
	*config
	output         string
	deleteQueueDir string
	timeout        time.Duration
}

const doctorIntro = `cilium-chain-install doctor checks a node's cilium-chain setup and says what is wrong.

It reads the CNI conf and bin dirs, libcni's attachment cache, the plugin's state dir and the
agent's deletion queue, asks the Cilium agent on its socket and the installer on its readiness
endpoint, and prints one line per finding: which conflist the runtime loads and whether it chains
cilium-chain under the primary's network name, the binaries, the agent's health and configuration
(with the Cilium Helm value to change), every pod attachment (endpoint, identity, policy, programs on
its host veth), orphan endpoints, queued deletions and the installer's state.

It exits 0 when nothing is wrong, 1 when something is, 2 on bad options. Run it in the DaemonSet's
pod (kubectl -n kube-system exec ds/cilium-chain -- cilium-chain-install doctor), where the defaults
fit, or on the node with the host paths, e.g.
  cilium-chain-install doctor --conf-dir=/etc/cni/net.d --bin-dir=/opt/cni/bin \
    --cni-cache-dir=/var/lib/cni --state-dir=/var/run/cilium-chain

Flags and variables are the installer's; those of the installer that do not apply are ignored.
`

func parseDoctorConfig(args []string, lookupEnv func(string) (string, bool), usageOut io.Writer) (*doctorConfig, error) {
	dc := &doctorConfig{config: &config{}}
	f := newFlags(dc.config)
	f.section = "Doctor"
	f.str(&dc.output, "output", "table", "table or json")
	f.str(&dc.config.runtime, "runtime", runtimeContainerd, "deprecated spelling of --container-runtime (the installer's; the DaemonSet sets it)")
	f.str(&dc.deleteQueueDir, "delete-queue-dir", chain.DefaultDeleteQueueDir, "the agent's deletion queue, as mounted")
	f.duration(&dc.timeout, "timeout", 5*time.Second, "deadline for each question to the agent and the installer")
	if err := f.parse(args, lookupEnv, usageOut, doctorIntro); err != nil {
		return nil, err
	}
	if err := dc.validate(); err != nil {
		return nil, err
	}
	switch {
	case dc.output != "table" && dc.output != "json":
		return nil, fmt.Errorf("--output must be table or json, not %q", dc.output)
	case dc.timeout <= 0:
		return nil, fmt.Errorf("--timeout must be positive, not %s", dc.timeout)
	}
	return dc, nil
}

// runDoctor is `cilium-chain-install doctor`: 0 healthy, 1 problems found, 2 bad options.
func runDoctor(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	dc, err := parseDoctorConfig(args, lookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install doctor: %v\nRun cilium-chain-install doctor --help for the options.\n", err)
		return 2
	}
	r := examine(context.Background(), dc)
	write := r.writeTable
	if dc.output == "json" {
		write = r.writeJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install doctor: %v\n", err)
		return 1
	}
	if r.failed() > 0 {
		return 1
	}
	return 0
}

// examine runs every check in order; later ones use what earlier ones found (the network name, the
// agent's endpoints) and say so when they cannot.
func examine(ctx context.Context, dc *doctorConfig) *report {
	d := &doctor{cfg: dc, r: &report{}, agent: chain.NewAgent(dc.agentSocket)}
	loaded := d.checkConflist()
	d.checkPluginBinary()
	if loaded != nil {
		d.checkBinaries(loaded)
	}
	eps, agentUp := d.checkAgent(ctx, loaded)
	if loaded != nil {
		d.checkAttachments(loaded.Name, eps, agentUp)
	}
	d.checkDeleteQueue(eps, agentUp)
	d.checkInstaller(ctx)
	return d.r
}

// doctor holds what the checks share.
type doctor struct {
	cfg   *doctorConfig
	r     *report
	agent *chain.Agent
}

// ctxFor bounds one question.
func (d *doctor) ctxFor(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.timeout)
}

// cniConfig is libcni with the host's bin dir and cache dir.
func (d *doctor) cniConfig() *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir([]string{d.cfg.binDir}, d.cfg.cniCacheDir, nil)
}
