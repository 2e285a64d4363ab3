//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

// helperEnv selects a helper mode of the test binary; the harness re-executes itself with it inside
// the node netns, where the plugins must run.
const helperEnv = "CCHAIN_E2E_HELPER"

// libcniRequest asks the helper for one libcni operation. cnitool prints errors without their CNI
// code and its gc cannot pass valid attachments; the helper does both.
type libcniRequest struct {
	Op          string               `json:"op"` // check, status, gc
	ConfDir     string               `json:"confDir"`
	NetNS       string               `json:"netns,omitempty"`
	IfName      string               `json:"ifName,omitempty"`
	ContainerID string               `json:"containerID,omitempty"`
	Args        [][2]string          `json:"args,omitempty"`
	Valid       []types.GCAttachment `json:"valid,omitempty"`
}

// libcniReply is the outcome; Code is the CNI error code when the plugin chain failed.
type libcniReply struct {
	OK   bool   `json:"ok"`
	Code uint   `json:"code,omitempty"`
	Msg  string `json:"msg,omitempty"`
}

func runHelper(name string, _ []string) int {
	if name != "libcni" {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	var req libcniRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "decode request: %v\n", err)
		return 2
	}
	err := doLibcni(req)
	reply := libcniReply{OK: err == nil}
	if err != nil {
		reply.Msg = err.Error()
		var cniErr *types.Error
		if errors.As(err, &cniErr) {
			reply.Code = cniErr.Code
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(reply)
	return 0
}

func doLibcni(req libcniRequest) error {
	list, err := libcni.LoadNetworkConf(req.ConfDir, netName)
	if err != nil {
		return fmt.Errorf("load %s: %w", req.ConfDir, err)
	}
	// Same cache as cnitool, so GC sees the pods cnitool added.
	cninet := libcni.NewCNIConfig(filepath.SplitList(os.Getenv("CNI_PATH")), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := &libcni.RuntimeConf{ContainerID: req.ContainerID, NetNS: req.NetNS, IfName: req.IfName, Args: req.Args}
	switch req.Op {
	case "check":
		return cninet.CheckNetworkList(ctx, list, rt)
	case "status":
		return cninet.GetStatusNetworkList(ctx, list)
	case "gc":
		return cninet.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: req.Valid})
	}
	return fmt.Errorf("unknown op %q", req.Op)
}

// libcni runs one request through the helper inside the node netns.
func (c *cniRunner) libcni(t *testing.T, req libcniRequest) libcniReply {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary: %v", err)
	}
	in, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := c.n.exec(append([]string{"env", helperEnv + "=libcni", "CNI_PATH=" + c.tl.cniPath()}, append(c.env, exe)...)...)
	res := run(ctx, nil, in, argv[0], argv[1:]...)
	if res.Err != nil {
		t.Fatalf("libcni helper: %v", res.Err)
	}
	var reply libcniReply
	if err := json.Unmarshal(res.Stdout, &reply); err != nil {
		t.Fatalf("libcni helper reply %q: %v", res.Stdout, err)
	}
	return reply
}

// podRequest fills the runtime fields of a request for one pod, as cnitool would.
func podRequest(op, confDir string, p *pod) libcniRequest {
	return libcniRequest{Op: op, ConfDir: confDir, NetNS: p.ns.path(), IfName: p.ifname, ContainerID: p.containerID(), Args: splitArgs(p.cniArgs())}
}
