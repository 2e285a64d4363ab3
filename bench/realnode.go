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
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cilium-chain/cilium-chain/chain"
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
	etcd     *bgProc
	agent    *bgProc
	bpffs    string
	restore  func() error // undoes what the agent added under /var/run/cilium
	proxy    *timingProxy
	pods     []netnsName
	startups time.Duration
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
	if err := os.WriteFile(filepath.Join(r.dir, "etcd.yaml"), []byte("endpoints:\n- http://127.0.0.1:2379\n"), 0o644); err != nil {
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
	r.agent, err = startBg("cilium-agent", filepath.Join(r.dir, "agent.log"), []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH")},
		append([]string{"ip", "netns", "exec", string(r.node), paths.peer("cilium-agent")}, r.agentArgs()...)...)
	if err != nil {
		return r, err
	}
	logf("cilium-agent started (pid %d), waiting for its API and host endpoint", r.agent.cmd.Process.Pid)
	if err := r.waitReady(ctx, 4*time.Minute); err != nil {
		return r, fmt.Errorf("agent not ready: %w\n%s", err, tail(filepath.Join(r.dir, "agent.log"), 30))
	}
	r.startups = time.Since(began)
	r.proxy, err = startProxy(filepath.Join(r.dir, "proxy.sock"), r.sock())
	return r, err
}

// wireNode builds the node netns: ext0 ↔ ext1 (in the ext netns), addresses and a default route, so
// the agent has a device and a node IP without touching the machine's interfaces.
func (r *realNode) wireNode(ctx context.Context) error {
	for _, n := range []netnsName{r.ext, r.node} {
		if err := addNetns(ctx, n); err != nil {
			return err
		}
	}
	for _, argv := range [][]string{
		{"ip", "-n", string(r.node), "link", "add", "ext0", "type", "veth", "peer", "name", "ext1", "netns", string(r.ext)},
		{"ip", "-n", string(r.node), "addr", "add", "10.99.0.1/24", "dev", "ext0"},
		{"ip", "-n", string(r.ext), "addr", "add", "10.99.0.2/24", "dev", "ext1"},
		{"ip", "-n", string(r.node), "link", "set", "ext0", "up"},
		{"ip", "-n", string(r.ext), "link", "set", "ext1", "up"},
		{"ip", "-n", string(r.node), "route", "add", "default", "via", "10.99.0.2"},
	} {
		if err := run(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}

func (r *realNode) startEtcd(ctx context.Context) (err error) {
	r.etcd, err = startBg("etcd", filepath.Join(r.dir, "etcd.log"), nil, "ip", "netns", "exec", string(r.node), "etcd",
		"--name=ccbench", "--data-dir="+filepath.Join(r.dir, "etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=ccbench=http://127.0.0.1:2380", "--log-level=warn")
	if err != nil {
		return err
	}
	return poll(ctx, 30*time.Second, func() error {
		if r.etcd.exited() {
			return fmt.Errorf("etcd exited: %v", r.etcd.err)
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

// agentArgs run v1.20.2 without Kubernetes in generic-veth chaining; health checks, Hubble, L7 proxy
// and iptables are off, so what is timed is endpoint creation.
func (r *realNode) agentArgs() []string {
	p := func(s string) string { return filepath.Join(r.dir, s) }
	return []string{
		"--enable-k8s=false", "--kvstore=etcd", "--kvstore-opt=etcd.config=" + p("etcd.yaml"),
		"--identity-allocation-mode=kvstore", "--ipam=kubernetes", "--ipv4-range=10.200.0.0/24",
		"--routing-mode=native", "--ipv4-native-routing-cidr=10.0.0.0/8", "--cni-chaining-mode=generic-veth",
		"--enable-ipv4=true", "--enable-ipv6=false", "--state-dir=" + p("state"), "--lib-dir=" + p("lib"),
		"--bpf-root=" + p("bpffs"), "--socket-path=" + r.sock(), "--devices=ext0",
		"--enable-health-checking=false", "--enable-endpoint-health-checking=false", "--enable-l7-proxy=false",
		"--enable-hubble=false", "--enable-gops=false", "--install-iptables-rules=false",
		"--enable-ipv4-masquerade=false", "--kube-proxy-replacement=false",
	}
}

// waitReady: API state Ok and the agent's own host endpoint ready (its datapath compiled and loaded).
func (r *realNode) waitReady(ctx context.Context, within time.Duration) error {
	api := newAPI(r.sock())
	return poll(ctx, within, func() error {
		if r.agent.exited() {
			return fmt.Errorf("agent exited: %v", r.agent.err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := api.Healthz(cctx)
		if err != nil {
			return err
		}
		if s.Cilium == nil || s.Cilium.State != "Ok" {
			return fmt.Errorf("agent state %+v", s.Cilium)
		}
		eps, err := api.ListEndpoints(cctx)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if ep.Status != nil && ep.Status.Identity != nil && slices.Contains(ep.Status.Identity.Labels, "reserved:host") &&
				ep.Status.State != nil && *ep.Status.State == "ready" {
				return nil
			}
		}
		return fmt.Errorf("host endpoint not ready yet")
	})
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
	if r.agent != nil {
		errs = append(errs, r.agent.stop(30*time.Second))
	}
	if r.etcd != nil {
		errs = append(errs, r.etcd.stop(10*time.Second))
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

// poll calls fn until it returns nil or within passes.
func poll(ctx context.Context, within time.Duration, fn func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", within, err)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// tail is the last n lines of a log, for failure reports.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// newAPI is cilium-chain's own agent client, used here only to watch the agent.
func newAPI(sock string) *chain.Agent { return chain.NewAgent(sock) }
