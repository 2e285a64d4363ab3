package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// vethNode is a node netns with one pod whose eth0 is a veth into the node, as a primary plugin
// leaves it; prevResult describes it. No cnitool: the plugin binary is executed directly.
type vethNode struct {
	node, pod ns.NetNS
	result    *current.Result
}

func newVethNode(t *testing.T) *vethNode {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and veth pairs; run as root (CI does)")
	}
	n := &vethNode{}
	for _, p := range []*ns.NetNS{&n.node, &n.pod} {
		netns, err := testutils.NewNS()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netns.Close(); _ = testutils.UnmountNS(netns) })
		*p = netns
	}
	addr, _ := netlink.ParseIPNet("10.244.1.5/24")
	err := n.pod.Do(func(ns.NetNS) error {
		hostIf, podIf, err := ip.SetupVeth("eth0", 1500, "", n.node)
		if err != nil {
			return err
		}
		link, err := netlinksafe.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: addr}); err != nil {
			return err
		}
		idx := 1
		n.result = &current.Result{CNIVersion: current.ImplementedSpecVersion,
			Interfaces: []*current.Interface{{Name: hostIf.Name, Mac: hostIf.HardwareAddr.String()},
				{Name: "eth0", Mac: podIf.HardwareAddr.String(), Sandbox: n.pod.Path()}},
			IPs: []*current.IPConfig{{Address: *addr, Interface: &idx}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// prevResult is the pod's result in cniVersion, for embedding in a config.
func (n *vethNode) prevResult(t *testing.T, cniVersion string) map[string]any {
	t.Helper()
	converted, err := n.result.GetAsVersion(cniVersion)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	b, _ := json.Marshal(converted)
	_ = json.Unmarshal(b, &m)
	return m
}

func (n *vethNode) run(t *testing.T, command string, stdin []byte) outcome {
	t.Helper()
	return runIn(t, n.node, command, stdin, map[string]string{"CNI_NETNS": n.pod.Path()})
}

// TestEveryCodeAtBinaryLevel execs the plugin for each of its own codes (100–107) and the spec codes
// it uses, and reads the CNI error JSON it prints.
func TestEveryCodeAtBinaryLevel(t *testing.T) {
	type setup struct {
		e    *env
		n    *vethNode
		v    string
		prev map[string]any
	}
	added := func(t *testing.T, s setup) {
		t.Helper()
		s.n.run(t, "ADD", s.e.stdin(s.v, map[string]any{"prevResult": s.prev})).wantCode(t, 0, "")
	}
	cases := []struct {
		name    string
		command string
		checkOK bool // needs CHECK (0.4.0+)
		prepare func(t *testing.T, s setup) map[string]any
		code    uint
		msg     string
	}{
		{"agent down: try again later", "ADD", false, func(t *testing.T, s setup) map[string]any {
			s.e.agent.Down()
			return map[string]any{"add-timeout": "300ms"}
		}, types.ErrTryAgainLater, "unavailable"},
		{"100 agent rejected", "ADD", false, func(t *testing.T, s setup) map[string]any {
			s.e.agent.Inject(fakeagent.Fault{Method: "PUT", Status: 400, Count: 1})
			return nil
		}, CodeAgentRejected, "400"},
		{"101 endpoint unhealthy", "CHECK", true, func(t *testing.T, s setup) map[string]any {
			added(t, s)
			for _, ep := range s.e.agent.Endpoints() {
				s.e.agent.SetEndpointHealth(ep.ID, models.EndpointHealthStatusFailure)
			}
			return nil
		}, CodeEndpointUnhealthy, "Failure"},
		{"102 interface mismatch", "ADD", false, func(t *testing.T, s setup) map[string]any {
			s.prev["ips"].([]any)[0].(map[string]any)["address"] = "10.244.1.77/24"
			return nil
		}, CodeInterfaceMismatch, "10.244.1.77"},
		{"103 peer not found", "ADD", false, func(t *testing.T, s setup) map[string]any {
			// eth0 becomes a bridge: not a veth.
			if err := s.n.pod.Do(func(ns.NetNS) error {
				l, _ := netlinksafe.LinkByName("eth0")
				if err := netlink.LinkSetName(l, "old0"); err != nil {
					return err
				}
				d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}}
				if err := netlink.LinkAdd(d); err != nil {
					return err
				}
				addr, _ := netlink.ParseAddr("10.244.1.5/24")
				return netlink.AddrAdd(d, addr)
			}); err != nil {
				t.Fatal(err)
			}
			delete(s.prev["interfaces"].([]any)[1].(map[string]any), "mac")
			return nil
		}, CodePeerNotFound, "not a veth"},
		{"104 agent failed", "ADD", false, func(t *testing.T, s setup) map[string]any {
			s.e.agent.Inject(fakeagent.Fault{Method: "PUT", Status: 500, Count: 1})
			return nil
		}, CodeAgentFailed, "500"},
		{"105 endpoint not found", "CHECK", true, func(t *testing.T, s setup) map[string]any {
			added(t, s)
			if err := chain.NewAgent(s.e.agent.Socket()).DeleteEndpoint(context.Background(), "cni-attachment-id:cid1:eth0"); err != nil {
				t.Fatal(err)
			}
			return nil
		}, CodeEndpointNotFound, "cni-attachment-id:cid1:eth0"},
		{"106 delete failed on a live agent", "DEL", false, func(t *testing.T, s setup) map[string]any {
			added(t, s)
			s.e.agent.Inject(fakeagent.Fault{Method: "DELETE", Status: 500, Count: 1000})
			return map[string]any{"del-timeout": "300ms"}
		}, CodeDeleteFailed, "retry DEL"},
		{"107 state dir not writable", "ADD", false, func(t *testing.T, s setup) map[string]any {
			blocker := filepath.Join(s.e.dir, "state-file")
			_ = os.WriteFile(blocker, nil, 0o600)
			return map[string]any{"state-dir": blocker}
		}, CodeStateDir, "state-dir"},
	}
	for _, v := range cniVersions {
		for _, tc := range cases {
			if tc.checkOK && (v == "0.3.0" || v == "0.3.1") {
				continue
			}
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				s := setup{e: newEnv(t), n: newVethNode(t), v: v}
				s.prev = s.n.prevResult(t, v)
				extra := tc.prepare(t, s)
				if extra == nil {
					extra = map[string]any{}
				}
				extra["prevResult"] = s.prev
				o := s.n.run(t, tc.command, s.e.stdin(v, extra))
				o.wantCode(t, tc.code, tc.msg)
				if o.stdout == "" || !json.Valid([]byte(o.stdout)) {
					t.Fatalf("stdout is not the CNI error JSON: %q", o.stdout)
				}
			})
		}
	}
}
