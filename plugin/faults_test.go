package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// addDirect runs cilium-chain's ADD for pod in the node netns with prevResult taken from a Flannel ADD,
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

func TestKillDuringAddThenDel(t *testing.T) {
	n := newCNINode(t)
	n.writeFlannel("0.3.1", n.e.entry(nil))
	pod := n.newPod()
	prev, err := n.cnitool("add", pod, "") // Flannel + cilium-chain for the pod's own attachment
	if err != nil {
		t.Fatal(err)
	}
	// A second, direct ADD for another attachment ID on the same veth, killed while the agent is slow.
	n.e.agent.SetDelay(2 * time.Second)
	cmd := n.startAdd("killed", pod, []byte(prev), n.e.entry(map[string]any{"add-timeout": "1s"}))
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Kill() // kill -9
	_ = cmd.Wait()
	n.e.agent.SetDelay(0)

	// The runtime sends DEL for the killed ADD: it succeeds, and nothing of "killed" remains.
	o := run(t, "DEL", n.stdinFor("0.3.1", nil), map[string]string{"CNI_CONTAINERID": "killed", "CNI_NETNS": pod.Path()})
	o.wantCode(t, 0, "")
	if n.e.agent.Endpoint("cni-attachment-id:killed:eth0") != nil {
		t.Fatal("endpoint of the killed ADD survived its DEL")
	}
	if _, err := os.Stat(filepath.Join(n.e.dir, "state", n.network, "killed:eth0")); !os.IsNotExist(err) {
		t.Fatalf("record of the killed ADD left after DEL: %v", err)
	}
	if _, err := n.cnitool("del", pod, ""); err != nil {
		t.Fatal(err)
	}
}

func TestKillDuringAddThenGC(t *testing.T) {
	// No DEL ever comes (the runtime lost track): GC collects the record once its ADD deadline passed.
	n := newCNINode(t)
	n.writeFlannel("0.3.1", n.e.entry(nil))
	pod := n.newPod()
	prev, err := n.cnitool("add", pod, "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := n.startAdd("orphan", pod, []byte(prev), n.e.entry(map[string]any{"add-timeout": "1s"}))
	_ = cmd.Wait() // this one completes: an endpoint the runtime never learns about
	if n.e.agent.Endpoint("cni-attachment-id:orphan:eth0") == nil {
		t.Fatal("setup: the direct ADD did not register")
	}
	n.gcOurs([]string{cnitoolContainerID(pod) + ":eth0"})
	if n.e.agent.Endpoint("cni-attachment-id:orphan:eth0") != nil {
		t.Fatal("GC left the orphaned endpoint")
	}
	if n.e.agent.Endpoint("cni-attachment-id:"+cnitoolContainerID(pod)+":eth0") == nil {
		t.Fatal("GC deleted a valid endpoint")
	}
	if _, err := n.cnitool("del", pod, ""); err != nil {
		t.Fatal(err)
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
