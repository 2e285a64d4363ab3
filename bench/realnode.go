package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// agentRunDir is used by the agent whatever --state-dir says (pid file, deleteQueue/, sockets).
const agentRunDir = "/var/run/cilium"

// realNode is a node netns running etcd and the real cilium-agent v1.20.2 (flags from
// shared/notes/real-peers.md, as e2e/ runs it), with a device ext0 whose peer sits in a second netns.
type realNode struct {
	paths    Paths
	dir      string
	node     netnsName
	ext      netnsName
	net      *network
	confA    string // Flannel alone
	etcd     *peer.Proc
	agent    *peer.Proc
	sysctls  peer.Sysctls // the agent's machine-wide sysctls before it started
	bpffs    string
	restore  func() error // undoes what the agent added under /var/run/cilium
	proxy    *timingProxy
	pods     []netnsName
	startups time.Duration
	// stateDir is the tmpfs cilium-chain keeps its attachment records in (see variants).
	stateDir     string
	unmountState func()
}

func (r *realNode) sock() string { return filepath.Join(r.dir, "cilium.sock") }

func startRealNode(ctx context.Context, paths Paths, logf func(string, ...any)) (r *realNode, err error) {
	r = &realNode{paths: paths, dir: filepath.Join(paths.RunDir, "agent"),
		node: netnsName(runPrefix() + "anode"), ext: netnsName(runPrefix() + "aext")}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.close())
			r = nil
		}
	}()
	for _, d := range []string{"state", "lib", "bpffs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return r, err
		}
	}
	if err := os.Symlink(filepath.Join(paths.PeerDir, "cilium-bpf"), filepath.Join(r.dir, "lib", "bpf")); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "etcd.yaml"), []byte(peer.EtcdConfig), 0o644); err != nil {
		return r, err
	}
	if r.stateDir, r.unmountState, err = mountTmpfs(ctx, filepath.Join(r.dir, "state-tmpfs")); err != nil {
		return r, err
	}
	if r.restore, err = guardRunDir(); err != nil {
		return r, err
	}
	if err := r.wireNode(ctx); err != nil {
		return r, err
	}
	r.bpffs = filepath.Join(r.dir, "bpffs")
	if err := run(ctx, "mount", "-t", "bpf", "bpf", r.bpffs); err != nil {
		r.bpffs = ""
		return r, err
	}
	if r.net, err = newNetwork(runPrefix()+"rnet", filepath.Join(r.dir, "net")); err != nil {
		return r, err
	}
	if r.confA, err = r.net.write("a", nil); err != nil {
		return r, err
	}
	if err := r.startEtcd(ctx); err != nil {
		return r, err
	}
	began := time.Now()
	r.sysctls = peer.SaveSysctls(peer.AgentSysctls)
	r.agent, err = peer.Start("cilium-agent", filepath.Join(r.dir, "agent.log"), []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH")},
		append([]string{"ip", "netns", "exec", string(r.node), paths.peer("cilium-agent")}, peer.AgentArgs(r.dir, r.sock())...)...)
	if err != nil {
		return r, err
	}
	logf("cilium-agent started (pid %d), waiting for its API and host endpoint", r.agent.Pid())
	if err := peer.WaitAgentReady(r.agent, peer.NewAgentAPI(r.sock()), 4*time.Minute, 200*time.Millisecond, nil); err != nil {
		return r, fmt.Errorf("agent not ready: %w\n%s", err, r.agent.LogTail(30))
	}
	r.startups = time.Since(began)
	r.proxy, err = startProxy(filepath.Join(r.dir, "proxy.sock"), r.sock())
	return r, err
}

// wireNode builds the node netns and its ext netns (peer.NodeWiring), so the agent has a device and a
// node IP without touching the machine's interfaces.
func (r *realNode) wireNode(ctx context.Context) error {
	for _, n := range []netnsName{r.ext, r.node} {
		if err := addNetns(ctx, n); err != nil {
			return err
		}
	}
	for _, argv := range peer.NodeWiring(string(r.node), string(r.ext)) {
		if err := run(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}

func (r *realNode) startEtcd(ctx context.Context) (err error) {
	r.etcd, err = peer.Start("etcd", filepath.Join(r.dir, "etcd.log"), nil,
		append([]string{"ip", "netns", "exec", string(r.node), "etcd"}, peer.EtcdArgs("ccbench", filepath.Join(r.dir, "etcd"))...)...)
	if err != nil {
		return err
	}
	return peer.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		if done, werr := r.etcd.Exited(); done {
			return fmt.Errorf("etcd exited: %v", werr)
		}
		return etcdHealthy(r.node)
	})
}

// etcdHealthy asks etcd's /health from inside the node netns.
func etcdHealthy(node netnsName) error {
	target, err := ns.GetNS(node.path())
	if err != nil {
		return err
	}
	defer target.Close()
	var conn net.Conn
	if err := target.Do(func(ns.NetNS) error {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:2379", 2*time.Second)
		return err
	}); err != nil {
		return err
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }, DisableKeepAlives: true}}
	resp, err := client.Get("http://127.0.0.1:2379/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "true") {
		return fmt.Errorf("etcd health %d: %s", resp.StatusCode, body)
	}
	return nil
}

// close stops the agent and etcd by their process groups, unmounts the bpffs, deletes the netns
// (links, tc programs and routes go with them) and restores /var/run/cilium.
func (r *realNode) close() error {
	var errs []error
	if r.proxy != nil {
		r.proxy.close()
	}
	for _, p := range r.pods {
		errs = append(errs, delNetns(p))
	}
	for _, p := range []struct {
		proc  *peer.Proc
		grace time.Duration
	}{{r.agent, 30 * time.Second}, {r.etcd, 10 * time.Second}} {
		if p.proc != nil {
			if err := p.proc.Stop(p.grace); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.proc.Name(), err))
			}
			p.proc.KillGroup() // children it left (clang, llc)
		}
	}
	if r.unmountState != nil {
		r.unmountState()
	}
	if r.sysctls != nil {
		restored, stuck, err := r.sysctls.Restore()
		for _, m := range append(restored, stuck...) {
			fmt.Fprintf(os.Stderr, "sysctl %s\n", m)
		}
		errs = append(errs, err)
	}
	if r.bpffs != "" {
		errs = append(errs, run(context.Background(), "umount", "-l", r.bpffs))
	}
	for _, n := range []netnsName{r.node, r.ext} {
		if _, err := os.Stat(n.path()); err == nil {
			errs = append(errs, delNetns(n))
		}
	}
	if r.net != nil {
		r.net.removeCache()
	}
	if r.restore != nil {
		errs = append(errs, r.restore())
	}
	return errors.Join(errs...)
}

// guardRunDir records /var/run/cilium before the agent starts and returns what removes the agent's
// additions (mounts under it first). It refuses to start over queued deletions: they belong to
// someone else's agent.
func guardRunDir() (func() error, error) {
	if q, _ := filepath.Glob(filepath.Join(agentRunDir, "deleteQueue", "*.delete")); len(q) > 0 {
		return nil, fmt.Errorf("%s holds %d queued deletions of another run; not starting an agent that would drain them", agentRunDir, len(q))
	}
	mountsBefore := mountsUnder(agentRunDir)
	if _, err := os.Stat(agentRunDir); os.IsNotExist(err) {
		return func() error {
			unmountNew(mountsBefore)
			return os.RemoveAll(agentRunDir)
		}, nil
	}
	before := map[string]bool{}
	entries, _ := os.ReadDir(agentRunDir)
	for _, e := range entries {
		before[e.Name()] = true
	}
	return func() error {
		unmountNew(mountsBefore)
		var errs []error
		entries, _ := os.ReadDir(agentRunDir)
		for _, e := range entries {
			if !before[e.Name()] {
				errs = append(errs, os.RemoveAll(filepath.Join(agentRunDir, e.Name())))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// mountsUnder lists mount points under dir (and its /run alias).
func mountsUnder(dir string) map[string]bool {
	out := map[string]bool{}
	b, _ := os.ReadFile("/proc/self/mounts")
	alias := strings.Replace(dir, "/var/run/", "/run/", 1)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (strings.HasPrefix(f[1], dir+"/") || strings.HasPrefix(f[1], alias+"/")) {
			out[f[1]] = true
		}
	}
	return out
}

func unmountNew(before map[string]bool) {
	for m := range mountsUnder(agentRunDir) {
		if !before[m] {
			_ = run(context.Background(), "umount", "-l", m)
		}
	}
}
