package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// cniRunner runs cnitool (and so the whole chain) inside a node netns, where the plugins find the
// host ends of the pod veths.
type cniRunner struct {
	paths Paths
	node  netnsName
	net   *network
	env   []string // for cnitool and every plugin it runs (CILIUM_SOCK)
}

// outcome is one timed process run.
type outcome struct {
	Took   time.Duration
	Stdout []byte
	Err    error
}

func podArgs(pod netnsName) string {
	return "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=" + string(pod)
}

// cnitool runs `cnitool <verb> <network> <pod netns>` with confDir as NETCONFPATH.
func (r *cniRunner) cnitool(ctx context.Context, confDir, verb string, pod netnsName) outcome {
	cmd := exec.CommandContext(ctx, r.paths.peer("cnitool"), verb, r.net.name, pod.path())
	cmd.Env = append([]string{
		"CNI_PATH=" + r.paths.cniPath(), "NETCONFPATH=" + confDir, "CNI_ARGS=" + podArgs(pod),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}, r.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := r.node.start(cmd); err != nil {
		return outcome{Err: err}
	}
	err := cmd.Wait()
	took := time.Since(start)
	if err != nil {
		err = fmt.Errorf("cnitool %s %s: %w: %s", verb, pod, err, lastLine(out.String()+" "+errOut.String()))
	}
	return outcome{Took: took, Stdout: out.Bytes(), Err: err}
}

// lastLine condenses process output (CNI errors are indented JSON) to its last 300 bytes on one line.
func lastLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, "plugin type="); i >= 0 {
		s = s[i:] // libcni's own words, after cnitool's usage text
	}
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return s
}
