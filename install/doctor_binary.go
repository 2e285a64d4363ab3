package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	areaPlugin  = "plugin"
	areaPrimary = "primary"
)

// checkPluginBinary: our binary in the host's bin dir, executable, and the build the installer ships.
func (d *doctor) checkPluginBinary() {
	path := d.cfg.binaryPath()
	if err := executable(path); err != nil {
		d.r.fail(areaPlugin, "binary", fmt.Sprintf("%s: %v: every pod ADD fails with \"failed to find plugin\"", path, err),
			"the installer copies it when it starts; see the installer findings below")
		return
	}
	onNode, err := pluginVersion(path)
	if err != nil {
		d.r.fail(areaPlugin, "binary", fmt.Sprintf("%s does not run: %v", path, err), "")
		return
	}
	shipped, err := pluginVersion(d.cfg.binarySource)
	if err != nil {
		d.r.warn(areaPlugin, "version", fmt.Sprintf("%s is %s; cannot compare with the installer's copy %s: %v", path, onNode, d.cfg.binarySource, err),
			"run doctor in the installer's pod to compare (or pass --binary-source)")
		return
	}
	same, err := sameContent(path, d.cfg.binarySource)
	switch {
	case err != nil:
		d.r.warn(areaPlugin, "version", fmt.Sprintf("%s is %s: %v", path, onNode, err), "")
	case same:
		d.r.ok(areaPlugin, "version", fmt.Sprintf("%s is %s, the installer's own build", path, onNode))
	default:
		d.r.fail(areaPlugin, "version", fmt.Sprintf("%s is %s, but the installer ships %s (other bytes)", path, onNode, shipped),
			"the installer replaces a binary of its own when it starts; another writer or a stuck rollout? check the installer's log and `kubectl -n kube-system rollout status ds/cilium-chain`")
	}
}

// checkBinaries: every binary the loaded network runs must be in the bin dir.
func (d *doctor) checkBinaries(l *loadedConflist) {
	var missing []string
	bins := pluginBinaries(l.NetworkConfigList)
	for _, b := range bins {
		if b == pluginType {
			continue // checkPluginBinary's job
		}
		if err := executable(filepath.Join(d.cfg.binDir, b)); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", b, err))
		}
	}
	if len(missing) > 0 {
		d.r.fail(areaPrimary, "binaries", fmt.Sprintf("%s needs %s in %s: pod ADD fails", filepath.Base(l.path), strings.Join(missing, ", "), d.cfg.binDir),
			"install the primary CNI's plugins (for Flannel: flannel, bridge, host-local, portmap) into the bin dir")
		return
	}
	d.r.ok(areaPrimary, "binaries", fmt.Sprintf("%s present in %s", strings.Join(bins, ", "), d.cfg.binDir))
}

// executable: a regular file with an execute bit.
func executable(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("missing")
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("not executable (mode %s)", st.Mode().Perm())
	}
	return nil
}

// pluginVersion runs the plugin with no CNI_COMMAND, on which it prints its about line to stderr:
// "cilium-chain <version>: ...".
func pluginVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = []string{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	line, _, _ := strings.Cut(stderr.String(), "\n")
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != pluginType {
		return "", fmt.Errorf("not a %s binary: it says %q", pluginType, line)
	}
	return strings.TrimSuffix(fields[1], ":"), nil
}

func sameContent(a, b string) (bool, error) {
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha, hb), nil
}
