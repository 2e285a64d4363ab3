package peer

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Cnitool runs the real cnitool, and so the whole chain, inside a node netns, where the plugins find
// the host ends of the pod veths. The environment is only what cnitool and the plugins need.
type Cnitool struct {
	Bin     string   // the cnitool binary
	CNIPath string   // CNI_PATH: the plugins' bin dirs
	NodeNS  string   // path of the node netns
	Env     []string // more environment for cnitool and every plugin (CILIUM_SOCK, CNI_IFNAME)
}

// CnitoolResult is one timed cnitool run.
type CnitoolResult struct {
	Stdout []byte
	Took   time.Duration
	Err    error
}

// Run runs `cnitool <verb> <network> <podNetns>` with the conflists of confDir and cniArgs as CNI_ARGS.
// A failure's error carries cnitool's words, condensed to one line.
func (c Cnitool) Run(ctx context.Context, confDir, verb, network, podNetns, cniArgs string) CnitoolResult {
	cmd := exec.CommandContext(ctx, c.Bin, verb, network, podNetns)
	cmd.Env = append([]string{"CNI_PATH=" + c.CNIPath, "NETCONFPATH=" + confDir, "CNI_ARGS=" + cniArgs,
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, c.Env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	node, err := ns.GetNS(c.NodeNS)
	if err != nil {
		return CnitoolResult{Err: fmt.Errorf("node netns: %w", err)}
	}
	defer node.Close()
	start := time.Now()
	// The child inherits the netns of the locked thread that starts it.
	if err := node.Do(func(ns.NetNS) error { return cmd.Start() }); err != nil {
		return CnitoolResult{Err: fmt.Errorf("start cnitool: %w", err)}
	}
	err = cmd.Wait()
	res := CnitoolResult{Stdout: out.Bytes(), Took: time.Since(start)}
	if err != nil {
		res.Err = fmt.Errorf("cnitool %s %s: %w: %s", verb, podNetns, err, Condense(out.String()+" "+errOut.String()))
	}
	return res
}

// Condense shortens process output (CNI errors are indented JSON) to its last 600 bytes on one line.
func Condense(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, "plugin type="); i >= 0 {
		s = s[i:] // libcni's own words, after cnitool's usage text
	}
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}
