package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// fakeNode is a node netns whose pods are wired by the real Flannel chain and whose agent is the fake
// (chain/fakeagent), answering at once unless told to rate-limit.
type fakeNode struct {
	paths    Paths
	dir      string
	node     netnsName
	net      *network
	agent    *fakeagent.Agent
	variants []variant
	confs    map[string]string // variant key → conf dir
	pods     []netnsName
	// stateDir is the tmpfs cilium-chain keeps its attachment records in (see variants).
	stateDir     string
	unmountState func()
}

func runPrefix() string { return nsPrefix + strconv.Itoa(os.Getpid()) + "-" }

func newFakeNode(ctx context.Context, paths Paths) (f *fakeNode, err error) {
	dir := filepath.Join(paths.RunDir, "fake")
	f = &fakeNode{paths: paths, dir: dir, node: netnsName(runPrefix() + "node"), confs: map[string]string{}}
	defer func() {
		if err != nil {
			f.close()
			f = nil
		}
	}()
	if f.net, err = newNetwork(runPrefix()+"net", dir); err != nil {
		return nil, err
	}
	if err = addNetns(ctx, f.node); err != nil {
		return nil, err
	}
	if f.agent, err = fakeagent.Start(filepath.Join(dir, "agent.sock")); err != nil {
		return nil, err
	}
	if f.stateDir, f.unmountState, err = mountTmpfs(ctx, filepath.Join(dir, "state-tmpfs")); err != nil {
		return nil, err
	}
	f.variants = variants(dir, f.stateDir)
	for _, v := range f.variants {
		if f.confs[v.Key], err = f.net.write(v.Key, v.entry); err != nil {
			return nil, err
		}
	}
	// The first ADD creates the cni0 bridge; do it outside any measurement (DEL leaves the bridge).
	pod, err := f.newPod(ctx, "warm")
	if err != nil {
		return nil, err
	}
	r := f.runner(f.agent.Socket())
	if o := r.cnitool(ctx, f.confs["a"], "add", pod); o.Err != nil {
		return nil, fmt.Errorf("warm-up ADD: %w", o.Err)
	}
	if o := r.cnitool(ctx, f.confs["a"], "del", pod); o.Err != nil {
		return nil, fmt.Errorf("warm-up DEL: %w", o.Err)
	}
	return f, nil
}

func (f *fakeNode) runner(sock string) *cniRunner {
	return &cniRunner{paths: f.paths, node: f.node, net: f.net, env: []string{"CILIUM_SOCK=" + sock}}
}

func (f *fakeNode) newPod(ctx context.Context, name string) (netnsName, error) {
	pod := netnsName(runPrefix() + name)
	if err := addNetns(ctx, pod); err != nil {
		return "", err
	}
	f.pods = append(f.pods, pod)
	return pod, nil
}

// problems reports requests the fake found invalid: a benchmark of wrong requests measures nothing.
func (f *fakeNode) problems() error {
	if p := f.agent.Problems(); len(p) > 0 {
		return fmt.Errorf("fake agent saw %d invalid requests, first: %s", len(p), p[0])
	}
	return nil
}

// close removes every pod netns, the node netns (and with it the bridge and veths), libcni's cache
// files of the network, and the fake's socket.
func (f *fakeNode) close() error {
	var errs []error
	for _, p := range f.pods {
		errs = append(errs, delNetns(p))
	}
	f.pods = nil
	if f.agent != nil {
		f.agent.Close()
	}
	if _, err := os.Stat(f.node.path()); err == nil {
		errs = append(errs, delNetns(f.node))
	}
	if f.net != nil {
		f.net.removeCache()
	}
	if f.unmountState != nil {
		f.unmountState()
	}
	return errors.Join(errs...)
}
