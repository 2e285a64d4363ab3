package chain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
	"github.com/cilium/cilium/api/v1/models"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

func TestAddEveryVersion(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			env, n, p := podEnv(t)
			stdin := env.conf(v, map[string]any{"prevResult": p.prevResult(v), "labels": []string{"k8s:io.kubernetes.pod.namespace=default"}, "label-args": []string{"app"}})
			c := env.call(stdin, "cid-"+v, p.ns.Path(), "eth0", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1;CILIUM_LABEL_app=test")

			res, err := addInNode(n, c)
			wantKind(t, err, nil, "")
			if len(res.Interfaces) != 2 || res.Interfaces[1].Name != "eth0" || res.IPs[0].Address.String() != "10.244.1.5/24" {
				t.Fatalf("result is not prevResult: %+v", res)
			}
			ep := env.agent.Endpoint(endpointID("cid-"+v, "eth0"))
			if ep == nil {
				t.Fatal("no endpoint registered")
			}
			host := n.hostLink(p.hostVeth["eth0"])
			got := ep.Status.Networking
			if got.InterfaceName != host.Attrs().Name || got.InterfaceIndex != int64(host.Attrs().Index) ||
				got.HostMac != host.Attrs().HardwareAddr.String() || got.Mac != p.mac("eth0") || got.Addressing[0].IPv4 != "10.244.1.5" {
				t.Fatalf("endpoint networking %+v does not match host veth %s/%d", got, host.Attrs().Name, host.Attrs().Index)
			}
			ids := ep.Status.ExternalIdentifiers
			if ids.K8sPodName != "web-0" || ids.K8sNamespace != "default" {
				t.Fatalf("pod identifiers: %+v", ids)
			}
			wantLabels := []string{"container:app=test", "k8s:io.kubernetes.pod.namespace=default"}
			if l := []string(ep.Status.Labels.Realized.User); !reflect.DeepEqual(l, wantLabels) {
				t.Fatalf("labels %v, want %v", l, wantLabels)
			}
			// GET /config comes once per agent start (TestAddAsksAgentConfigOncePerAgentStart); the
			// GET of the endpoint is the wait for its first regeneration.
			reqs := env.agent.Requests()
			if len(reqs) != 3 || reqs[1].Method != "PUT" || reqs[2].Method != "GET" || reqs[2].Path != "/v1/endpoint/"+endpointID(c.ContainerID, "eth0") {
				t.Fatalf("agent requests for the first ADD: %+v, want GET /config, the PUT and one GET of the endpoint", requestLines(reqs))
			}
			sent := sentPut(t, reqs)
			if sent.ContainerNetnsPath != "/var/run/cilium/netns/"+filepath.Base(p.ns.Path()) || sent.IsSecondaryInterface || sent.SyncBuildEndpoint {
				t.Fatalf("netns path %q (the agent's view of it, as upstream sends), secondary %v, synchronous build %v", sent.ContainerNetnsPath, sent.IsSecondaryInterface, sent.SyncBuildEndpoint)
			}
			if recs, _ := c.store.list(); len(recs) != 1 || recs[0].State != stateAdded {
				t.Fatalf("attachment record: %+v", recs)
			}
		})
	}
}

func TestAddPicksNamedVethAmongSeveral(t *testing.T) {
	env, n, p := podEnv(t)
	n.attach(p, "net1", "10.99.0.7/24")
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")}), "multi", p.ns.Path(), "net1", "")
	_, err := addInNode(n, c)
	wantKind(t, err, nil, "")
	ep := env.agent.Endpoint(endpointID("multi", "net1"))
	if ep == nil || ep.Status.Networking.InterfaceName != p.hostVeth["net1"] || ep.Status.Networking.Addressing[0].IPv4 != "10.99.0.7" {
		t.Fatalf("registered the wrong veth: %+v", ep)
	}
	if !sentPut(t, env.agent.Requests()).IsSecondaryInterface {
		t.Fatal("net1 must be sent as a secondary interface")
	}
}

func TestAddAgentAssignsMAC(t *testing.T) {
	env, n, p := podEnv(t)
	env.agent.SetMAC("0a:58:0a:00:00:99")
	c := env.call(env.conf("0.3.1", map[string]any{"prevResult": p.prevResult("0.3.1")}), "mac", p.ns.Path(), "eth0", "")
	res, err := addInNode(n, c)
	wantKind(t, err, nil, "")
	if res.Interfaces[1].Mac != "0a:58:0a:00:00:99" || p.mac("eth0") != "0a:58:0a:00:00:99" {
		t.Fatalf("MAC not applied: result %s, kernel %s", res.Interfaces[1].Mac, p.mac("eth0"))
	}
}

func TestAddDuplicateReplacesStaleEndpoint(t *testing.T) {
	env, n, p := podEnv(t)
	stdin := env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")})
	for range 2 {
		_, err := addInNode(n, env.call(stdin, "dup", p.ns.Path(), "eth0", ""))
		wantKind(t, err, nil, "")
	}
	if eps := env.agent.Endpoints(); len(eps) != 1 {
		t.Fatalf("%d endpoints after a repeated ADD, want 1", len(eps))
	}
}

func TestAddDuplicateWhoseReplacementFailsRollsBack(t *testing.T) {
	env, n, p := podEnv(t)
	stdin := env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")})
	_, err := addInNode(n, env.call(stdin, "dup", p.ns.Path(), "eth0", ""))
	wantKind(t, err, nil, "")
	// The retry's PUT finds the old endpoint, and the agent refuses to delete it once: the ADD fails
	// and its rollback deletes the old endpoint on the live agent — not queued, no record left.
	env.agent.Inject(fakeagent.Fault{Method: "DELETE", Status: 400, Count: 1})
	c := env.call(stdin, "dup", p.ns.Path(), "eth0", "")
	_, err = addInNode(n, c)
	wantKind(t, err, ErrAgentRejected, "")
	recs, _ := c.store.list()
	if env.agent.Endpoint(endpointID("dup", "eth0")) != nil || len(env.queueFiles()) != 0 || len(recs) != 0 {
		t.Fatalf("want the endpoint deleted: endpoint %v, queue %v, records %v", env.agent.Endpoint(endpointID("dup", "eth0")) != nil, env.queueFiles(), recs)
	}
}

func TestAddRouteMTU(t *testing.T) {
	// Upstream's rule: the conflist's enable-route-mtu or the agent's enable-route-mtu-for-cni-chaining.
	cases := []struct {
		conflist, agent bool
		want            int // 0: the primary's routes untouched
	}{
		{false, false, 0}, {true, false, 1450}, {false, true, 1450}, {true, true, 1450},
	}
	for _, v := range cniVersions {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/conflist=%v/agent=%v", v, tc.conflist, tc.agent), func(t *testing.T) {
				env, n, p := podEnv(t)
				env.agent.SetDaemon(fakeagent.Daemon{RouteMTUForChaining: tc.agent})
				c := env.call(env.conf(v, map[string]any{"prevResult": p.prevResult(v), "enable-route-mtu": tc.conflist}), "mtu", p.ns.Path(), "eth0", "")
				_, err := addInNode(n, c)
				wantKind(t, err, nil, "")
				_ = p.ns.Do(func(ns.NetNS) error {
					routes, _ := netlinksafe.RouteList(nil, netlink.FAMILY_V4)
					for _, r := range routes {
						if r.Table == 254 && r.MTU != tc.want {
							t.Errorf("route %s has MTU %d, want %d", r, r.MTU, tc.want)
						}
					}
					return nil
				})
			})
		}
	}
}

func TestAddAsksAgentConfigOncePerAgentStart(t *testing.T) {
	env, n := newTestEnv(t), newNode(t)
	env.agent.SetDaemon(fakeagent.Daemon{RouteMTUForChaining: true})
	configGets := func() int {
		got := 0
		for _, r := range env.agent.Requests() {
			if r.Path == "/v1/config" {
				got++
			}
		}
		return got
	}
	add := func(cid, cidr string) {
		p := n.newPod()
		n.attach(p, "eth0", cidr)
		_, err := addInNode(n, env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")}), cid, p.ns.Path(), "eth0", ""))
		wantKind(t, err, nil, "")
	}
	add("a", "10.244.1.5/24")
	add("b", "10.244.1.6/24")
	if got := configGets(); got != 1 {
		t.Fatalf("%d GET /config for two ADDs against one agent, want 1", got)
	}
	env.agent.Down() // a restart re-creates the socket: the agent's options may have changed
	_ = env.agent.Up()
	env.agent.SetDaemon(fakeagent.Daemon{RouteMTUForChaining: false})
	add("c", "10.244.1.7/24")
	if got := configGets(); got != 2 {
		t.Fatalf("%d GET /config after an agent restart, want 2", got)
	}
}

func TestAddRejects(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, env *testEnv, n *node, p *pod) (stdinExtra map[string]any, netns, ifname string)
		kind  error
		msg   string
	}{
		{"netns path missing", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, "/var/run/netns/does-not-exist", "eth0"
		}, ErrInvalidEnv, "CNI_NETNS"},
		{"no prevResult", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			return nil, p.ns.Path(), "eth0"
		}, ErrInvalidConfig, "prevResult"},
		{"no sandbox interface for CNI_IFNAME", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, p.ns.Path(), "eth9"
		}, ErrInterfaceMismatch, `"eth9"`},
		{"IP in prevResult absent from the netns", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			p.ips[0].Address.IP = net.IPv4(10, 244, 1, 77).To4()
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, p.ns.Path(), "eth0"
		}, ErrInterfaceMismatch, "10.244.1.77"},
		{"host veth not the one prevResult names", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			p.ifaces[0].Name = "vethOther"
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, p.ns.Path(), "eth0"
		}, ErrInterfaceMismatch, "vethOther"},
		{"pod interface is not a veth", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			if err := p.ns.Do(func(ns.NetNS) error {
				return netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}})
			}); err != nil {
				t.Fatal(err)
			}
			p.ifaces[1].Name = "br0"
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, p.ns.Path(), "br0"
		}, ErrPeerNotFound, "not a veth"},
		{"host peer lives in another netns", func(t *testing.T, env *testEnv, n *node, p *pod) (map[string]any, string, string) {
			other := n.newPod()
			_ = n.run(func() error {
				l, _ := netlinksafe.LinkByName(p.hostVeth["eth0"])
				return netlink.LinkSetNsFd(l, int(other.ns.Fd()))
			})
			return map[string]any{"prevResult": p.prevResult("1.0.0")}, p.ns.Path(), "eth0"
		}, ErrPeerNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, n, p := podEnv(t)
			extra, netns, ifname := tc.setup(t, env, n, p)
			if extra == nil {
				extra = map[string]any{"prevResult": nil}
			}
			_, err := addInNode(n, env.call(env.conf("1.0.0", extra), "bad", netns, ifname, ""))
			wantKind(t, err, tc.kind, tc.msg)
			if len(env.agent.Requests()) != 0 {
				t.Fatalf("bad input reached the agent: %+v", env.agent.Requests())
			}
		})
	}
}

func TestAddFailureLeavesNothing(t *testing.T) {
	// Each failure has one right outcome on a live agent: no endpoint, nothing queued, no record.
	cases := []struct {
		name  string
		setup func(env *testEnv)
		kind  error
	}{
		{"agent down until the deadline", func(env *testEnv) { env.agent.Down() }, ErrAgentUnavailable},
		// Only the PUT is slow: a DELETE as slow would outlast del-timeout, and then keeping the record for
		// GC is right whether or not the agent's undo of the abandoned create came first.
		{"PUT slower than the deadline", func(env *testEnv) {
			env.agent.SetDelay(3 * time.Second)
			env.agent.OnRequest(func(r *http.Request) {
				if r.Method == http.MethodPut {
					env.agent.SetDelay(0) // from the next request on
				}
			})
		}, ErrAgentUnavailable},
		{"agent answers after the deadline", func(env *testEnv) { env.agent.SetReplyDelay(3 * time.Second) }, ErrAgentUnavailable},
		{"first regeneration slower than the deadline", func(env *testEnv) { env.agent.SetRegeneration(3 * time.Second) }, ErrAgentUnavailable},
		{"endpoint gone while waiting for its regeneration", func(env *testEnv) {
			env.agent.SetRegeneration(3 * time.Second)
			env.agent.Inject(fakeagent.Fault{Method: "GET", PathPrefix: "/endpoint/", Status: 404, Count: 1})
		}, ErrAgentFailed},
		{"429 storm while waiting for the regeneration", func(env *testEnv) {
			env.agent.SetRegeneration(100 * time.Millisecond)
			env.agent.Inject(fakeagent.Fault{Method: "GET", PathPrefix: "/endpoint/", Status: 429, Count: 1000})
		}, ErrAgentUnavailable},
		{"agent 400", func(env *testEnv) { env.agent.Inject(fakeFault("PUT", 400, 1)) }, ErrAgentRejected},
		{"agent 500", func(env *testEnv) { env.agent.Inject(fakeFault("PUT", 500, 1)) }, ErrAgentFailed},
		{"agent returns an unusable MAC after creating", func(env *testEnv) { env.agent.SetMAC("not-a-mac") }, ErrAgentFailed},
		{"429 storm", func(env *testEnv) { env.agent.Inject(fakeagent.Fault{Method: "PUT", Status: 429, Count: 1000}) }, ErrAgentUnavailable},
		{"503 until the deadline", func(env *testEnv) { env.agent.Inject(fakeagent.Fault{Method: "PUT", Status: 503, Count: 1000}) }, ErrAgentUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, n, p := podEnv(t)
			c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "add-timeout": "700ms"}), "fail", p.ns.Path(), "eth0", "")
			if _, err := c.routeConfig(context.Background()); err != nil { // as an earlier ADD leaves it
				t.Fatal(err)
			}
			tc.setup(env)
			start := time.Now()
			_, err := addInNode(n, c)
			wantKind(t, err, tc.kind, "")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("ADD took %v with a 700ms deadline", d)
			}
			env.agent.SetDelay(0)
			env.agent.ClearFaults()
			_ = env.agent.Up()
			time.Sleep(50 * time.Millisecond) // let a slow handler finish
			recs, _ := c.store.list()
			if env.agent.Endpoint(endpointID("fail", "eth0")) != nil || len(env.queueFiles()) != 0 || len(recs) != 0 {
				t.Fatalf("endpoint left %v, queue %v, records %v", env.agent.Endpoint(endpointID("fail", "eth0")) != nil, env.queueFiles(), recs)
			}
		})
	}
}

func TestAddAgentRestartingMidAdd(t *testing.T) {
	env, n, p := podEnv(t)
	env.agent.Down()
	time.AfterFunc(300*time.Millisecond, func() { _ = env.agent.Up() })
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "add-timeout": "3s"}), "restart", p.ns.Path(), "eth0", "")
	_, err := addInNode(n, c)
	wantKind(t, err, nil, "")
	if env.agent.Endpoint(endpointID("restart", "eth0")) == nil {
		t.Fatal("no endpoint after the agent came back within the deadline")
	}
}

// TestAddAgentLosingTheEndpointEveryTime: an agent that restarts before every endpoint's first
// regeneration (a crash loop) gets the endpoint registered again a bounded number of times, then ADD
// fails as "try again later" and leaves nothing.
func TestAddAgentLosingTheEndpointEveryTime(t *testing.T) {
	env, n, p := podEnv(t)
	env.agent.SetRegeneration(time.Minute)
	var mu sync.Mutex
	armed := false
	env.agent.OnRequest(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPut:
			armed = true
		case armed && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/endpoint/"):
			armed = false
			go func() { env.agent.Down(); time.Sleep(20 * time.Millisecond); _ = env.agent.Up() }()
		}
	})
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "add-timeout": "10s"}), "loop", p.ns.Path(), "eth0", "")
	_, err := addInNode(n, c)
	wantKind(t, err, ErrAgentUnavailable, "")
	if !errors.Is(err, errLostInRestart) {
		t.Errorf("error %v, want the endpoint lost in a restart", err)
	}
	puts := 0
	for _, r := range env.agent.Requests() {
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 1+maxLostAnswers {
		t.Errorf("%d PUTs, want %d", puts, 1+maxLostAnswers)
	}
	env.agent.OnRequest(nil)
	recs, _ := c.store.list()
	if env.agent.Endpoint(endpointID("loop", "eth0")) != nil || len(recs) != 0 {
		t.Fatalf("endpoint left %v, records %v", env.agent.Endpoint(endpointID("loop", "eth0")) != nil, recs)
	}
}

// TestAddWaitsForFirstRegeneration: the create is not synchronous, so ADD itself waits until the agent
// has realized the endpoint's policy: a pod must not start before its policy is in force. Meanwhile an
// agent restart and a few 429s from the endpoint-get limiter are waited out.
func TestAddWaitsForFirstRegeneration(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(env *testEnv)
		wantPuts int
	}{
		{"regeneration takes a while", func(env *testEnv) {}, 1},
		{"endpoint-get limiter answers 429", func(env *testEnv) {
			env.agent.Inject(fakeagent.Fault{Method: "GET", PathPrefix: "/endpoint/", Status: 429, Count: 3})
		}, 1},
		{"connections reset while waiting (agent killed mid-answer)", func(env *testEnv) {
			env.agent.Inject(fakeagent.Fault{Method: "GET", PathPrefix: "/endpoint/", Reset: true, Count: 3})
		}, 1},
		{"agent restarts meanwhile and loses the endpoint", func(env *testEnv) {
			env.agent.OnRequest(func(r *http.Request) {
				if r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/endpoint/") {
					env.agent.OnRequest(nil)
					go func() { env.agent.Down(); time.Sleep(100 * time.Millisecond); _ = env.agent.Up() }()
				}
			})
		}, 2},
	}
	const regeneration = 400 * time.Millisecond
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, n, p := podEnv(t)
			env.agent.SetRegeneration(regeneration)
			tc.setup(env)
			c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "add-timeout": "5s"}), "regen", p.ns.Path(), "eth0", "")
			start := time.Now()
			_, err := addInNode(n, c)
			took := time.Since(start)
			wantKind(t, err, nil, "")
			ep := env.agent.Endpoint(endpointID("regen", "eth0"))
			if ep == nil || realizedRevision(ep) < 1 || took < regeneration {
				t.Fatalf("ADD returned after %v, before the endpoint's first regeneration (%v): %+v", took, regeneration, ep)
			}
			// Polls a quarter of the time waited apart (at least 10 ms): about 16 in 400 ms, not a busy loop.
			polls, puts := 0, 0
			for _, r := range env.agent.Requests() {
				switch {
				case r.Method == "GET" && r.Path == "/v1/endpoint/"+endpointID("regen", "eth0"):
					polls++
				case r.Method == "PUT":
					puts++
				}
			}
			if polls > 30*tc.wantPuts {
				t.Errorf("%d GETs of the endpoint while waiting %v for its regeneration", polls, regeneration)
			}
			if puts != tc.wantPuts {
				t.Errorf("%d PUTs, want %d", puts, tc.wantPuts)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(env *testEnv, n *node, p *pod)
		kind    error
	}{
		{"healthy", func(*testEnv, *node, *pod) {}, nil},
		{"host veth removed behind its back", func(env *testEnv, n *node, p *pod) {
			_ = n.run(func() error { return netlink.LinkDel(n.hostLink(p.hostVeth["eth0"])) })
		}, ErrInterfaceMismatch},
		{"endpoint gone from the agent", func(env *testEnv, n *node, p *pod) {
			for _, ep := range env.agent.Endpoints() {
				_ = NewAgent(env.agent.Socket()).DeleteEndpoint(context.Background(), itoa(int(ep.ID)))
			}
		}, ErrEndpointNotFound},
		{"endpoint unhealthy", func(env *testEnv, n *node, p *pod) {
			for _, ep := range env.agent.Endpoints() {
				env.agent.SetEndpointHealth(ep.ID, models.EndpointHealthStatusFailure)
			}
		}, ErrEndpointUnhealthy},
		{"agent down", func(env *testEnv, n *node, p *pod) { env.agent.Down() }, ErrAgentUnavailable},
		{"endpoint lacks prevResult's address", func(env *testEnv, n *node, p *pod) {
			// Same attachment, host veth and MAC, but the agent holds no address for it.
			ep := env.agent.Endpoint(endpointID("chk", "eth0"))
			_ = NewAgent(env.agent.Socket()).DeleteEndpoint(context.Background(), itoa(int(ep.ID)))
			req := testRequest("chk")
			req.ContainerInterfaceName, req.InterfaceName, req.Addressing = "eth0", p.hostVeth["eth0"], &models.AddressPair{}
			env.agent.AddForeign(req)
		}, ErrInterfaceMismatch},
		{"endpoint has an address prevResult lacks", func(env *testEnv, n *node, p *pod) {
			ep := env.agent.Endpoint(endpointID("chk", "eth0"))
			_ = NewAgent(env.agent.Socket()).DeleteEndpoint(context.Background(), itoa(int(ep.ID)))
			req := testRequest("chk")
			req.ContainerInterfaceName, req.InterfaceName, req.Addressing = "eth0", p.hostVeth["eth0"], &models.AddressPair{IPv4: "10.244.1.5", IPv6: "fd00::5"}
			env.agent.AddForeign(req)
		}, ErrInterfaceMismatch},
	}
	for _, v := range []string{"0.4.0", "1.0.0", "1.1.0"} { // CHECK exists from 0.4.0 on
		for _, tc := range cases {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				env, n, p := podEnv(t)
				stdin := env.conf(v, map[string]any{"prevResult": p.prevResult(v), "check-timeout": "500ms"})
				_, err := addInNode(n, env.call(stdin, "chk", p.ns.Path(), "eth0", ""))
				wantKind(t, err, nil, "")
				tc.breakIt(env, n, p)
				err = n.run(func() error { return env.call(stdin, "chk", p.ns.Path(), "eth0", "").Check(context.Background()) })
				wantKind(t, err, tc.kind, "")
			})
		}
	}
}

func TestDelAfterAddWithNetnsGone(t *testing.T) {
	env, n, p := podEnv(t)
	stdin := env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")})
	_, err := addInNode(n, env.call(stdin, "gone", p.ns.Path(), "eth0", ""))
	wantKind(t, err, nil, "")
	path := p.ns.Path()
	p.ns.Close()
	_ = os.Remove(path)
	err = n.run(func() error { return env.call(stdin, "gone", path, "eth0", "").Del(context.Background()) })
	wantKind(t, err, nil, "")
	if len(env.agent.Endpoints()) != 0 {
		t.Fatal("endpoint left after DEL")
	}
}

func TestAddStateDirFailingAfterPutKeepsWorkingEndpoint(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			env, n, p := podEnv(t)
			c := env.call(env.conf(v, map[string]any{"prevResult": p.prevResult(v)}), "full", p.ns.Path(), "eth0", "")
			// While the agent creates the endpoint, the state dir becomes unwritable.
			netDir := filepath.Join(env.dir, "state", "testnet")
			env.agent.OnRequest(func(r *http.Request) {
				if r.Method == http.MethodPut {
					_ = os.Rename(netDir, netDir+".gone")
					_ = os.WriteFile(netDir, nil, 0o600)
				}
			})
			_, err := addInNode(n, c)
			wantKind(t, err, nil, "")
			if env.agent.Endpoint(endpointID("full", "eth0")) == nil {
				t.Fatal("a working endpoint was rolled back because its record could not be updated")
			}
			for _, r := range env.agent.Requests() {
				if r.Method == http.MethodDelete {
					t.Fatalf("ADD deleted the endpoint: %+v", env.agent.Requests())
				}
			}
		})
	}
}

func TestAddStateDirUnwritableIsItsOwnKind(t *testing.T) {
	env, n, p := podEnv(t)
	blocker := filepath.Join(env.dir, "state-file")
	_ = os.WriteFile(blocker, nil, 0o600)
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "state-dir": blocker}), "ro", p.ns.Path(), "eth0", "")
	_, err := addInNode(n, c)
	wantKind(t, err, ErrStateDir, "state-dir")
	for _, r := range env.agent.Requests() {
		if r.Method == http.MethodPut {
			t.Fatal("no PUT may follow a failed record write")
		}
	}
	if errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("a node fault is not a config error: %v", err)
	}
}

func TestAddSocketPathNotASocket(t *testing.T) {
	env, n, p := podEnv(t)
	dir := filepath.Join(env.dir, "sock-dir") // what a hostPath mount leaves when the socket is missing
	_ = os.Mkdir(dir, 0o755)
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "socket-path": dir}), "nosock", p.ns.Path(), "eth0", "")
	_, err := addInNode(n, c)
	wantKind(t, err, ErrInvalidConfig, dir)
}

func TestAddNomadStyleIdentityAndLabels(t *testing.T) {
	// A Nomad job sets its own CNI args: it gets its mapped name/namespace, the labels the operator
	// allowed, and cannot override the operator's labels or claim k8s: ones.
	env, n, p := podEnv(t)
	stdin := env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0"), "label-source": "nomad",
		"labels": []string{"nomad:team=payments"}, "label-args": []string{"app", "team"},
		"args-pod-name": "NOMAD_ALLOC_NAME", "args-pod-namespace": "NOMAD_NAMESPACE"})
	c := env.call(stdin, "nomad", p.ns.Path(), "eth0",
		"IgnoreUnknown=1;NOMAD_ALLOC_NAME=api.web[0];NOMAD_NAMESPACE=prod;CILIUM_LABEL_app=api;CILIUM_LABEL_team=db-admins;CILIUM_LABEL_role=db")
	_, err := addInNode(n, c)
	wantKind(t, err, nil, "")
	ep := env.agent.Endpoint(endpointID("nomad", "eth0"))
	if ep == nil {
		t.Fatal("no endpoint")
	}
	if ids := ep.Status.ExternalIdentifiers; ids.K8sPodName != "api.web[0]" || ids.K8sNamespace != "prod" {
		t.Fatalf("pod identifiers from the mapped args: %+v", ids)
	}
	if l, want := []string(ep.Status.Labels.Realized.User), []string{"nomad:app=api", "nomad:team=payments"}; !reflect.DeepEqual(l, want) {
		t.Fatalf("labels %v, want %v", l, want)
	}
}

func TestAddConnectionLostMidPutIsRetried(t *testing.T) {
	cases := []struct {
		name    string
		handled bool // the agent created the endpoint before the connection dropped
	}{{"before the agent acted", false}, {"after the agent created the endpoint", true}}
	for _, v := range cniVersions {
		for _, tc := range cases {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				env, n, p := podEnv(t)
				env.agent.Inject(fakeagent.Fault{Method: "PUT", Reset: true, Handled: tc.handled, Count: 1})
				c := env.call(env.conf(v, map[string]any{"prevResult": p.prevResult(v)}), "reset", p.ns.Path(), "eth0", "")
				_, err := addInNode(n, c)
				wantKind(t, err, nil, "")
				if eps := env.agent.Endpoints(); len(eps) != 1 {
					t.Fatalf("%d endpoints after a retried PUT, want exactly 1", len(eps))
				}
				deletes := 0
				for _, r := range env.agent.Requests() {
					if r.Method == http.MethodDelete {
						deletes++
					}
				}
				if deletes != 1 {
					t.Fatalf("%d DELETEs: the retry must first make sure no endpoint was left", deletes)
				}
			})
		}
	}
}

func TestAddConnectionLostEveryTimeFailsClean(t *testing.T) {
	env, n, p := podEnv(t)
	env.agent.Inject(fakeagent.Fault{Method: "PUT", Reset: true, Handled: true, Count: 1000})
	c := env.call(env.conf("1.0.0", map[string]any{"prevResult": p.prevResult("1.0.0")}), "reset", p.ns.Path(), "eth0", "")
	_, err := addInNode(n, c)
	wantKind(t, err, ErrAgentFailed, "")
	recs, _ := c.store.list()
	if len(env.agent.Endpoints()) != 0 || len(env.queueFiles()) != 0 || len(recs) != 0 {
		t.Fatalf("left: %d endpoints, queue %v, records %v", len(env.agent.Endpoints()), env.queueFiles(), recs)
	}
}
