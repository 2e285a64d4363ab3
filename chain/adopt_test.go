package chain

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

const adoptArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=old;K8S_POD_UID=uid-old;CILIUM_LABEL_app=old"

// adoptEnv is a node with a fake agent and a libcni cache dir, as the installer sees them.
type adoptEnv struct {
	*testEnv
	n     *node
	cache string
}

func newAdoptEnv(t *testing.T) *adoptEnv {
	t.Helper()
	env, n := newTestEnv(t), newNode(t)
	cache := filepath.Join(env.dir, "results")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	return &adoptEnv{testEnv: env, n: n, cache: cache}
}

// writeCache writes libcni's cache file for an attachment, as libcni does after a successful ADD.
func (a *adoptEnv) writeCache(network, cid, ifname, netns, cniArgs string, result map[string]any) string {
	a.t.Helper()
	var args [][2]string
	for _, kv := range strings.Split(cniArgs, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			args = append(args, [2]string{k, v})
		}
	}
	entry := map[string]any{
		"kind": "cniCacheV1", "containerId": cid, "ifName": ifname, "networkName": network, "netns": netns,
		"config":  []byte(`{"cniVersion":"0.3.1","name":"` + network + `","plugins":[{"type":"flannel"}]}`),
		"cniArgs": args, "result": result,
	}
	b, err := json.Marshal(entry)
	if err != nil {
		a.t.Fatal(err)
	}
	path := filepath.Join(a.cache, network+"-"+cid+"-"+ifname)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		a.t.Fatal(err)
	}
	return path
}

// adoption is a pass for our entry (network testnet), with extra keys merged into the entry.
func (a *adoptEnv) adoption(extra map[string]any) Adoption {
	conf, err := LoadConfig(a.conf("1.0.0", extra), func(string) string { return "" })
	if err != nil {
		a.t.Fatal(err)
	}
	return Adoption{Conf: conf, CacheDir: a.cache, Log: testLog(a.t)}
}

// run makes one pass in the node netns, where the installer runs.
func (a *adoptEnv) run(ad Adoption) []AttachmentReport {
	a.t.Helper()
	var reps []AttachmentReport
	err := a.n.run(func() error {
		var err error
		reps, err = ad.Run(context.Background())
		return err
	})
	if err != nil {
		a.t.Fatalf("adoption pass: %v", err)
	}
	return reps
}

func (a *adoptEnv) records() []record {
	recs, errs := newAttachmentStore(filepath.Join(a.dir, "state"), "testnet").list()
	if len(errs) > 0 {
		a.t.Fatal(errs)
	}
	return recs
}

func (a *adoptEnv) puts() []models.EndpointChangeRequest {
	var out []models.EndpointChangeRequest
	for _, r := range a.agent.Requests() {
		if r.Method == "PUT" {
			var req models.EndpointChangeRequest
			if err := json.Unmarshal(r.Body, &req); err != nil {
				a.t.Fatal(err)
			}
			out = append(out, req)
		}
	}
	return out
}

func onlyReport(t *testing.T, reps []AttachmentReport) AttachmentReport {
	t.Helper()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1: %+v", len(reps), reps)
	}
	return reps[0]
}

// An adopted attachment gets the very request ADD sends for it, and the same record: a later pass
// finds it managed and registers nothing; DEL and GC treat it as theirs.
func TestAdoptRegistersWhatAddWould(t *testing.T) {
	for _, v := range []string{"0.3.1", "0.4.0", "1.0.0"} {
		t.Run(v, func(t *testing.T) {
			a := newAdoptEnv(t)
			p := a.n.newPod()
			a.n.attach(p, "eth0", "10.244.1.5/24")
			labels := map[string]any{"labels": []string{"k8s:io.cilium.k8s.policy.cluster=default"}}

			add := a.call(a.conf(v, map[string]any{"prevResult": p.prevResult(v), "labels": labels["labels"]}), "cid1", p.ns.Path(), "eth0", adoptArgs)
			if _, err := addInNode(a.n, add); err != nil {
				t.Fatal(err)
			}
			if err := add.Del(context.Background()); err != nil {
				t.Fatal(err)
			}

			a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, p.prevResult(v))
			r := onlyReport(t, a.run(a.adoption(labels)))
			if r.Outcome != OutcomeAdopted || r.Namespace != "default" || r.Pod != "old" {
				t.Fatalf("report %+v, want adopted default/old", r)
			}
			puts := a.puts()
			if len(puts) != 2 || !reflect.DeepEqual(puts[0], puts[1]) {
				t.Fatalf("adoption's request differs from ADD's:\nADD   %+v\nadopt %+v", puts[0], puts[len(puts)-1])
			}
			recs := a.records()
			if len(recs) != 1 || recs[0].State != stateAdded || !recs[0].Adopted || recs[0].Netns != p.ns.Path() {
				t.Fatalf("records %+v, want one added, adopted record", recs)
			}

			if r := onlyReport(t, a.run(a.adoption(labels))); r.Outcome != OutcomeManaged {
				t.Fatalf("second pass: %+v, want managed", r)
			}
			if n := len(a.puts()); n != 2 {
				t.Fatalf("second pass sent a PUT (%d in all)", n)
			}
			if len(a.agent.Endpoints()) != 1 {
				t.Fatalf("endpoints %d, want 1", len(a.agent.Endpoints()))
			}

			del := a.call(a.conf(v, nil), "cid1", p.ns.Path(), "eth0", adoptArgs)
			if err := del.Del(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(a.agent.Endpoints()) != 0 || len(a.records()) != 0 {
				t.Fatalf("after DEL: endpoints %d, records %+v", len(a.agent.Endpoints()), a.records())
			}
		})
	}
}

func TestAdoptedEndpointIsCollectedByGC(t *testing.T) {
	a := newAdoptEnv(t)
	p := a.n.newPod()
	a.n.attach(p, "eth0", "10.244.1.5/24")
	a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, p.prevResult("0.3.1"))
	if r := onlyReport(t, a.run(a.adoption(nil))); r.Outcome != OutcomeAdopted {
		t.Fatalf("%+v", r)
	}
	gc := a.call(a.conf("1.1.0", map[string]any{"cni.dev/valid-attachments": []types.GCAttachment{}}), "", "", "", "")
	if err := gc.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(a.agent.Endpoints()) != 0 || len(a.records()) != 0 {
		t.Fatalf("GC left endpoints %d, records %+v", len(a.agent.Endpoints()), a.records())
	}
}

// Every reason not to adopt: the attachment is reported unmanaged, and neither an endpoint nor a
// record is left.
func TestAdoptSkips(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(a *adoptEnv, p *pod, res map[string]any) (netns, args string)
		extra  map[string]any
		report bool
		want   string
	}{
		{name: "host veth removed by hand", want: "are gone", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			if err := a.n.run(func() error { return netlink.LinkDel(a.n.hostLink(p.hostVeth["eth0"])) }); err != nil {
				a.t.Fatal(err)
			}
			return p.ns.Path(), adoptArgs
		}},
		{name: "host veth MAC changed", want: "prevResult recorded", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			mac, _ := net.ParseMAC("02:00:00:aa:bb:cc")
			if err := a.n.run(func() error { return netlink.LinkSetHardwareAddr(a.n.hostLink(p.hostVeth["eth0"]), mac) }); err != nil {
				a.t.Fatal(err)
			}
			return p.ns.Path(), adoptArgs
		}},
		{name: "pod netns gone", want: "pod netns", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			return filepath.Join(a.dir, "no-such-netns"), adoptArgs
		}},
		{name: "netns path is no netns", want: "is not a network namespace", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			return a.cache, adoptArgs
		}},
		{name: "host veth leads into another pod", want: "is a veth into netns", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			other := a.n.newPod()
			return other.ns.Path(), adoptArgs
		}},
		{name: "no pod MAC in the cache", want: "records no MAC", setup: func(a *adoptEnv, p *pod, res map[string]any) (string, string) {
			delete(res["interfaces"].([]any)[1].(map[string]any), "mac")
			return p.ns.Path(), adoptArgs
		}},
		{name: "no pod interface in the cache", want: "no interface \"eth0\" with a sandbox", setup: func(a *adoptEnv, p *pod, res map[string]any) (string, string) {
			delete(res["interfaces"].([]any)[1].(map[string]any), "sandbox")
			return p.ns.Path(), adoptArgs
		}},
		{name: "no cniVersion in the cached result", want: "no cniVersion", setup: func(a *adoptEnv, p *pod, res map[string]any) (string, string) {
			delete(res, "cniVersion")
			return p.ns.Path(), adoptArgs
		}},
		{name: "invalid cached CNI_ARGS label", want: "CNI_ARGS", extra: map[string]any{"label-args": []string{"*"}}, setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			return p.ns.Path(), adoptArgs + ";CILIUM_LABEL_a:b=c"
		}},
		{name: "agent refuses the PUT", want: "registering endpoint", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			a.agent.Inject(fakeagent.Fault{Method: "PUT", Status: 400, Count: 1})
			return p.ns.Path(), adoptArgs
		}},
		{name: "agent wants another MAC", want: "does not change a running pod's MAC", setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			a.agent.SetMAC("02:00:00:11:22:33")
			return p.ns.Path(), adoptArgs
		}},
		{name: "enable-route-mtu", want: "enable-route-mtu", extra: map[string]any{"enable-route-mtu": true}, setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			return p.ns.Path(), adoptArgs
		}},
		{name: "adoption off", want: "adoption is off", report: true, setup: func(a *adoptEnv, p *pod, _ map[string]any) (string, string) {
			return p.ns.Path(), adoptArgs
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAdoptEnv(t)
			p := a.n.newPod()
			a.n.attach(p, "eth0", "10.244.1.5/24")
			res := p.prevResult("0.3.1")
			netns, args := tc.setup(a, p, res)
			a.writeCache("testnet", "cid1", "eth0", netns, args, res)
			ad := a.adoption(tc.extra)
			ad.ReportOnly = tc.report

			r := onlyReport(t, a.run(ad))
			if r.Outcome != OutcomeUnmanaged || !strings.Contains(r.Reason, tc.want) {
				t.Fatalf("report %+v, want unmanaged because %q", r, tc.want)
			}
			if r.Namespace != "default" || r.Pod != "old" {
				t.Fatalf("report names %s/%s, want default/old", r.Namespace, r.Pod)
			}
			if len(a.agent.Endpoints()) != 0 || len(a.records()) != 0 {
				t.Fatalf("left endpoints %v, records %+v", a.agent.Endpoints(), a.records())
			}
			if tc.report && len(a.puts()) != 0 {
				t.Fatal("adoption off sent a PUT")
			}
		})
	}
}

// A pod deleted while its adoption is in flight (its DEL ran before our PUT landed) keeps nothing:
// whether its cache entry or its veth went first.
func TestAdoptPodGoneDuringPut(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone func(a *adoptEnv, p *pod, cachePath string) error
	}{
		{"cache entry removed", func(a *adoptEnv, p *pod, cachePath string) error { return os.Remove(cachePath) }},
		{"host veth removed", func(a *adoptEnv, p *pod, cachePath string) error {
			return a.n.run(func() error { return netlink.LinkDel(a.n.hostLink(p.hostVeth["eth0"])) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAdoptEnv(t)
			p := a.n.newPod()
			a.n.attach(p, "eth0", "10.244.1.5/24")
			path := a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, p.prevResult("0.3.1"))
			a.agent.SetDelay(300 * time.Millisecond)
			// Every answer is delayed; the PUT is recorded on arrival: the pod goes while it is in flight.
			done := make(chan error, 1)
			go func() {
				for !hasPut(a.agent) {
					time.Sleep(5 * time.Millisecond)
				}
				done <- tc.gone(a, p, path)
			}()
			r := onlyReport(t, a.run(a.adoption(nil)))
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if r.Outcome != OutcomeUnmanaged || !strings.Contains(r.Reason, "went away") {
				t.Fatalf("report %+v, want unmanaged: went away", r)
			}
			if len(a.agent.Endpoints()) != 0 || len(a.records()) != 0 {
				t.Fatalf("left endpoints %d, records %+v", len(a.agent.Endpoints()), a.records())
			}
		})
	}
}

// An adopted pod whose cache entry and netns are gone (its DEL missed us) loses its endpoint on the
// next pass; with the netns still there it is left alone.
func TestAdoptReapsGonePods(t *testing.T) {
	a := newAdoptEnv(t)
	p := a.n.newPod()
	a.n.attach(p, "eth0", "10.244.1.5/24")
	path := a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, p.prevResult("0.3.1"))
	if r := onlyReport(t, a.run(a.adoption(nil))); r.Outcome != OutcomeAdopted {
		t.Fatalf("%+v", r)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if reps := a.run(a.adoption(nil)); len(reps) != 0 || len(a.agent.Endpoints()) != 1 {
		t.Fatalf("netns still there: reports %+v, endpoints %d; want the endpoint kept", reps, len(a.agent.Endpoints()))
	}
	// The pod's netns goes (detached: the test's own handle still pins it).
	if err := unix.Unmount(p.ns.Path(), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p.ns.Path()); err != nil {
		t.Fatal(err)
	}
	a.run(a.adoption(nil))
	if len(a.agent.Endpoints()) != 0 || len(a.records()) != 0 {
		t.Fatalf("gone pod: endpoints %d, records %+v left", len(a.agent.Endpoints()), a.records())
	}
}

// Cache files that are not our network's attachments are never read as ours, reported or changed.
func TestAdoptLeavesOtherEntriesAlone(t *testing.T) {
	a := newAdoptEnv(t)
	p := a.n.newPod()
	a.n.attach(p, "eth0", "10.244.1.5/24")
	res := p.prevResult("0.3.1")
	a.writeCache("othernet", "cid1", "eth0", p.ns.Path(), adoptArgs, res)   // another network
	a.writeCache("cni-loopback", "cid1", "lo", p.ns.Path(), adoptArgs, res) // the runtime's loopback
	a.writeCache("testnet-x", "cid1", "eth0", p.ns.Path(), adoptArgs, res)  // a network whose name starts with ours
	odd := a.writeCache("testnet", "cid2", "eth0", p.ns.Path(), adoptArgs, res)
	b, _ := os.ReadFile(odd)
	_ = os.WriteFile(odd, []byte(strings.Replace(string(b), "cniCacheV1", "cniCacheV9", 1)), 0o600) // a format we do not know
	_ = os.WriteFile(filepath.Join(a.cache, "testnet-garbage-eth0"), []byte("{not json"), 0o600)
	before := snapshot(t, a.cache)

	if reps := a.run(a.adoption(nil)); len(reps) != 0 {
		t.Fatalf("reports for entries that are not ours: %+v", reps)
	}
	if len(a.puts()) != 0 || len(a.records()) != 0 {
		t.Fatalf("touched: puts %d, records %+v", len(a.puts()), a.records())
	}
	if after := snapshot(t, a.cache); !reflect.DeepEqual(before, after) {
		t.Fatalf("cache dir changed:\n%v\n%v", before, after)
	}
}

func TestAdoptNeedsHealthyAgentAndCache(t *testing.T) {
	a := newAdoptEnv(t)
	p := a.n.newPod()
	a.n.attach(p, "eth0", "10.244.1.5/24")
	a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, p.prevResult("0.3.1"))
	a.agent.SetHealth(models.StatusStateFailure)
	err := a.n.run(func() error { _, err := a.adoption(nil).Run(context.Background()); return err })
	wantKind(t, err, ErrNotReady, "Failure")

	a.agent.SetHealth(models.StatusStateOk)
	ad := a.adoption(nil)
	ad.CacheDir = filepath.Join(a.dir, "not-mounted")
	err = a.n.run(func() error { _, err := ad.Run(context.Background()); return err })
	if err == nil || !strings.Contains(err.Error(), "is it mounted") {
		t.Fatalf("missing cache dir: %v", err)
	}
	if len(a.puts()) != 0 {
		t.Fatal("a failed pass registered something")
	}
}

// Two veths of the pod named in one prevResult: the node cannot tell which is the attachment's.
func TestAdoptRefusesAmbiguousHostVeths(t *testing.T) {
	a := newAdoptEnv(t)
	p := a.n.newPod()
	a.n.attach(p, "eth0", "10.244.1.5/24")
	a.n.attach(p, "net1", "10.99.0.7/24")
	res := p.prevResult("0.3.1")
	// The eth0 result with net1's host veth listed too, as a sloppy plugin might report.
	ifaces := res["interfaces"].([]any)
	res["interfaces"] = []any{ifaces[0], ifaces[1], ifaces[2]}
	res["ips"] = res["ips"].([]any)[:1]
	a.writeCache("testnet", "cid1", "eth0", p.ns.Path(), adoptArgs, res)
	r := onlyReport(t, a.run(a.adoption(nil)))
	if r.Outcome != OutcomeUnmanaged || !strings.Contains(r.Reason, "2 host veths") {
		t.Fatalf("report %+v, want unmanaged: ambiguous", r)
	}
}

func hasPut(agent *fakeagent.Agent) bool {
	for _, r := range agent.Requests() {
		if r.Method == "PUT" {
			return true
		}
	}
	return false
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fi, _ := e.Info()
		out[e.Name()] = fi.ModTime().String() + " " + string(b)
	}
	return out
}
