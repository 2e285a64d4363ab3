package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

const (
	runtimeContainerd = "containerd"
	runtimeCRIO       = "crio"
)

// cniRuntime is how the container runtime of --container-runtime picks the CNI config it runs from
// the conf dir. The installer (does it run ours?) and the doctor (which one does it run?) both ask it.
//   - containerd's CRI plugin (go-cni's loadFromConfDir, max_conf_num 1) reads the files in lexical
//     order and runs the first; an invalid one before it fails the whole load, and go-cni's Load has
//     dropped the networks it had, so the node's CNI is down. It does not look at binaries.
//   - CRI-O (ocicni's loadNetworks) skips files that do not load and those libcni's
//     ValidateNetworkList refuses (a plugin binary missing, or not speaking the network's cniVersion),
//     and runs the first that remains. crio.conf's cni_default_network is not read.
type cniRuntime struct {
	name   string // runtimeContainerd or runtimeCRIO
	binDir string
}

func (c *config) cniRuntime() cniRuntime { return cniRuntime{name: c.runtime, binDir: c.binDir} }

// orderedConfig is a file of the conf dir in the runtime's order, valid or not.
type orderedConfig struct {
	path    string
	conf    confFile // when valid
	invalid error    // why it does not load
}

// confOrder is the conf dir in the runtime's order (lexical), valid files and invalid ones.
func confOrder(valid []confFile, skipped []skippedFile) []orderedConfig {
	var out []orderedConfig
	for _, cf := range valid {
		out = append(out, orderedConfig{path: cf.path, conf: cf})
	}
	for _, s := range skipped {
		out = append(out, orderedConfig{path: s.path, invalid: s.reason})
	}
	slices.SortFunc(out, func(a, b orderedConfig) int { return strings.Compare(a.path, b.path) })
	return out
}

// verdict is what the runtime does with one file.
type verdict struct {
	refused error // why it does not run the file; nil: it runs it when nothing before it is run
	fatal   bool  // the refusal fails the node's whole CNI load instead of skipping the file
}

func (rt cniRuntime) judge(f orderedConfig) verdict {
	switch {
	case f.invalid != nil:
		return verdict{refused: f.invalid, fatal: rt.name == runtimeContainerd}
	case rt.name == runtimeCRIO:
		return verdict{refused: rt.validate(f.conf)}
	}
	return verdict{}
}

// judged is a file with the runtime's verdict on it.
type judged struct {
	orderedConfig
	verdict
}

// choose walks the files as the runtime does, up to the one it runs or the one that fails its load;
// the last one returned is the runtime's choice unless it is refused (then it runs none).
func (rt cniRuntime) choose(files []orderedConfig) []judged {
	var seen []judged
	for _, f := range files {
		j := judged{f, rt.judge(f)}
		seen = append(seen, j)
		if j.refused == nil || j.fatal {
			break
		}
	}
	return seen
}

// primary is the network we chain onto (pickPrimary) among the configs the runtime runs; when it runs
// none of them (CRI-O, a primary whose binary is still being copied), among all valid ones, so ours
// is in place the moment the binary arrives.
func (rt cniRuntime) primary(valid []confFile, own, wantNetwork string) (confFile, bool) {
	runnable := slices.DeleteFunc(slices.Clone(valid), func(cf confFile) bool {
		return filepath.Base(cf.path) == own || rt.judge(orderedConfig{path: cf.path, conf: cf}).refused != nil
	})
	if p, ok := pickPrimary(runnable, own, wantNetwork); ok {
		return p, true
	}
	return pickPrimary(valid, own, wantNetwork)
}

// missingPlugins: CRI-O's validation found no binary for these plugin types.
type missingPlugins struct {
	types  []string
	binDir string
}

func (m *missingPlugins) Error() string {
	return fmt.Sprintf("plugin binaries %v are not in %s", m.types, m.binDir)
}

// versionTimeout bounds the VERSION question to one config's binaries, so a hanging binary cannot
// stall a round.
const versionTimeout = 5 * time.Second

// validate is CRI-O's check of a config that loaded (libcni's ValidateNetworkList): every plugin's
// binary is in the bin dir and lists the network's cniVersion among those it supports.
func (rt cniRuntime) validate(cf confFile) error {
	if missing := missingBinaries(cf.data, rt.binDir); len(missing) > 0 {
		return &missingPlugins{types: missing, binDir: rt.binDir}
	}
	list, err := cf.list()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	_, err = libcni.NewCNIConfig([]string{rt.binDir}, &versionExec{}).ValidateNetworkList(ctx, list)
	return err
}

// versionExec runs plugins for libcni's validation as libcni's RawExec does, except that a binary
// that is there but cannot start in this container (its loader or interpreter is the host's) counts
// as supporting every version: the runtime on the host may well run it, and we cannot tell.
type versionExec struct{ version.PluginDecoder }

func (versionExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (versionExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path)
	var stdout bytes.Buffer
	cmd.Env, cmd.Stdin, cmd.Stdout = environ, bytes.NewReader(stdin), &stdout
	err := cmd.Run()
	var start *fs.PathError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case errors.As(err, &start) && errors.Is(err, fs.ErrNotExist):
		return json.Marshal(map[string]any{"cniVersion": version.Current(), "supportedVersions": version.All.SupportedVersions()})
	}
	var perr types.Error // a plugin's error is the JSON on its stdout (libcni reads "unknown CNI_COMMAND" from it)
	if json.Unmarshal(stdout.Bytes(), &perr) == nil && perr.Msg != "" {
		return nil, &perr
	}
	return nil, fmt.Errorf("run %s: %w", path, err)
}

// pluginTypes lists the plugin types of a config, conflist or single; nil when it does not parse.
func pluginTypes(data []byte) []string {
	if conf, err := libcni.NetworkPluginConfFromBytes(data); err == nil && conf.Network.Type != "" {
		return []string{conf.Network.Type}
	}
	list, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return nil
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	return types
}

// missingBinaries lists the plugin types of a config that have no file in binDir (libcni's
// FindInPath: a regular file; one that is not executable fails its VERSION run instead).
func missingBinaries(data []byte, binDir string) []string {
	var missing []string
	for _, t := range pluginTypes(data) {
		if _, err := invoke.FindInPath(t, []string{binDir}); err != nil && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	return missing
}
