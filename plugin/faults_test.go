package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// startAdd runs cilium-chain's ADD for pod in the node netns with prevResult taken from a Flannel ADD,
// starting the process and returning it so a test can kill it.
func (n *cniNode) startAdd(containerID string, pod ns.NetNS, prevResult []byte, entry map[string]any) *exec.Cmd {
	n.t.Helper()
	entry["cniVersion"], entry["name"], entry["prevResult"] = "0.3.1", n.network, json.RawMessage(prevResult)
	stdin, _ := json.Marshal(entry)
	cmd := exec.Command(pluginBin)
	cmd.Env = []string{"CNI_COMMAND=ADD", "CNI_CONTAINERID=" + containerID, "CNI_NETNS=" + pod.Path(), "CNI_IFNAME=eth0", "CNI_PATH=/nonexistent"}
	cmd.Stdin = bytes.NewReader(stdin)
	if err := n.ns.Do(func(ns.NetNS) error { return cmd.Start() }); err != nil {
		n.t.Fatal(err)
	}
	return cmd
}

// killMidAdd starts a direct ADD for containerID on a pod that Flannel alone networked (a veth and a
// free IP, no endpoint), waits until the fake agent shows the endpoint in state, and kills the plugin
// with SIGKILL there. It returns the pod and the Flannel-only conf dir (for its DEL).
func (n *cniNode) killMidAdd(containerID string, state models.EndpointState) (ns.NetNS, string) {
	n.t.Helper()
	flannelOnly := n.writeFlannelOnly()
	pod := n.newPod()
	prev, err := n.cnitoolIn(flannelOnly, "add", pod, "")
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := n.startAdd(containerID, pod, []byte(prev), n.e.entry(map[string]any{"add-timeout": "10s"}))
	id := "cni-attachment-id:" + containerID + ":eth0"
	err = peer.Eventually(5*time.Second, 10*time.Millisecond, func() error {
		if ep := n.e.agent.Endpoint(id); ep == nil || *ep.Status.State != state {
			return fmt.Errorf("endpoint %s not %s yet", id, state)
		}
		return nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		n.t.Fatal(err)
	}
	_ = cmd.Process.Kill() // kill -9
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		n.t.Fatalf("the ADD was not killed but ended with %v", err)
	}
	return pod, flannelOnly
}

// recordOf is the plugin's record of an attachment (its state dir, network subdir).
func (n *cniNode) recordOf(containerID string) string {
	return filepath.Join(n.e.dir, "state", n.network, containerID+":eth0")
}

// TestKillDuringAddThenDel: the plugin dies mid-ADD, and the runtime's DEL must succeed and leave
// nothing; the plugin's record of the attempt stays until then. Killed while the agent creates the
// endpoint, the agent undoes that create once the client is gone (see fakeagent's put); killed while
// waiting for the endpoint's first regeneration, the endpoint stays for DEL to delete.
func TestKillDuringAddThenDel(t *testing.T) {
	cases := []struct {
		name      string
		slow      func(a *fakeagent.Agent, d time.Duration)
		abandoned int
	}{
		{"during the create", (*fakeagent.Agent).SetDelay, 1},
		{"waiting for the regeneration", (*fakeagent.Agent).SetRegeneration, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newCNINode(t)
			tc.slow(n.e.agent, 3*time.Second)
			pod, flannelOnly := n.killMidAdd("killed", models.EndpointStateRegenerating)
			tc.slow(n.e.agent, 0)
			if err := peer.Eventually(2*time.Second, 20*time.Millisecond, func() error {
				left := n.e.agent.Endpoint("cni-attachment-id:killed:eth0") != nil
				if n.e.agent.Abandoned() != tc.abandoned || left != (tc.abandoned == 0) {
					return fmt.Errorf("abandoned creates %d, endpoint left %v", n.e.agent.Abandoned(), left)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !peer.FileExists(n.recordOf("killed")) {
				t.Fatal("the killed ADD left no record of its attempt")
			}

			o := run(t, "DEL", n.stdinFor("0.3.1", nil), map[string]string{"CNI_CONTAINERID": "killed", "CNI_NETNS": pod.Path()})
			o.wantCode(t, 0, "")
			if peer.FileExists(n.recordOf("killed")) {
				t.Fatal("record of the killed ADD left after its DEL")
			}
			if q, _ := filepath.Glob(filepath.Join(n.e.dir, "deleteQueue", "*.delete")); len(q) != 0 {
				t.Fatalf("DEL on a live agent queued %v", q)
			}
			if len(n.e.agent.Endpoints()) != 0 {
				t.Fatalf("endpoints left: %d", len(n.e.agent.Endpoints()))
			}
			if _, err := n.cnitoolIn(flannelOnly, "del", pod, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKillDuringAddThenGC: the plugin dies after the agent has created the endpoint, while the answer
// is on its way; the endpoint stays and no DEL ever comes (the runtime lost track). GC leaves it alone
// while its ADD might still be running, then collects it, and keeps the valid attachment.
func TestKillDuringAddThenGC(t *testing.T) {
	n := newCNINode(t)
	n.writeFlannel("0.3.1", n.e.entry(nil))
	valid := n.newPod()
	if _, err := n.cnitool("add", valid, ""); err != nil {
		t.Fatal(err)
	}
	n.e.agent.SetReplyDelay(3 * time.Second)
	pod, flannelOnly := n.killMidAdd("orphan", models.EndpointStateReady)
	n.e.agent.SetReplyDelay(0)
	orphan := "cni-attachment-id:orphan:eth0"
	if n.e.agent.Endpoint(orphan) == nil || !peer.FileExists(n.recordOf("orphan")) {
		t.Fatal("the killed ADD should leave its endpoint (the agent had created it) and its record")
	}
	validAtt := []string{cnitoolContainerID(valid) + ":eth0"}

	n.gcOurs(validAtt) // within the ADD deadline (1s in gcOurs): the ADD might still be running
	if n.e.agent.Endpoint(orphan) == nil {
		t.Fatal("GC collected an attachment whose ADD may still be running")
	}
	time.Sleep(1100 * time.Millisecond)
	n.gcOurs(validAtt)
	if n.e.agent.Endpoint(orphan) != nil || peer.FileExists(n.recordOf("orphan")) {
		t.Fatal("GC left the orphaned endpoint or its record")
	}
	if n.e.agent.Endpoint("cni-attachment-id:"+validAtt[0]) == nil {
		t.Fatal("GC deleted a valid endpoint")
	}
	for _, c := range []struct {
		dir string
		pod ns.NetNS
	}{{n.confDir, valid}, {flannelOnly, pod}} {
		if _, err := n.cnitoolIn(c.dir, "del", c.pod, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDelBeforeAdd(t *testing.T) {
	e := newEnv(t)
	for _, v := range cniVersions {
		run(t, "DEL", e.stdin(v, nil), map[string]string{"CNI_CONTAINERID": "never-added"}).wantCode(t, 0, "")
	}
	if q, _ := filepath.Glob(filepath.Join(e.dir, "deleteQueue", "*.delete")); len(q) != 0 {
		t.Fatalf("a DEL the agent answered 404 must not queue: %v", q)
	}
}

func TestDelWithCorruptQueueEntry(t *testing.T) {
	e := newEnv(t)
	qdir := filepath.Join(e.dir, "deleteQueue")
	_ = os.MkdirAll(qdir, 0o755)
	corrupt := filepath.Join(qdir, "0000.delete")
	_ = os.WriteFile(corrupt, []byte("\x00\xffnot an id{"), 0o644)
	e.agent.Down()
	run(t, "DEL", e.stdin("1.0.0", nil), map[string]string{}).wantCode(t, 0, "")
	files, _ := filepath.Glob(filepath.Join(qdir, "*.delete"))
	if len(files) != 2 {
		t.Fatalf("queue: %v", files)
	}
	_ = e.agent.Up()
	if n, err := e.agent.DrainQueue(qdir); err != nil || n != 2 {
		t.Fatalf("drain %d %v", n, err)
	}
}

// stdinFor is the chain entry alone with the network's name, as libcni hands it to cilium-chain.
func (n *cniNode) stdinFor(cniVersion string, extra map[string]any) []byte {
	m := n.e.entry(extra)
	m["cniVersion"], m["name"] = cniVersion, n.network
	b, _ := json.Marshal(m)
	return b
}
