package main

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// TestSoak runs SOAK_CYCLES ADD/DEL operations through cnitool on the Flannel chain while the fake
// agent randomly goes down (and restarts, draining its deletion queue like the real one), slows down,
// rate-limits or fails. Like a runtime, a failed ADD is followed by DEL. At the end: recovery, GC, and
// the agent must hold exactly the endpoints of the pods still up, with nothing leaked; and at least
// soakMinAddShare of the ADDs must have succeeded (the faults alone cannot explain more failures).
// The run prints its RNG seed; SOAK_SEED=<seed> replays it. `make soak`.
func TestSoak(t *testing.T) {
	cycles, _ := strconv.Atoi(os.Getenv("SOAK_CYCLES"))
	if cycles <= 0 {
		t.Skip("set SOAK_CYCLES (make soak runs 1000, CI a shorter variant)")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SOAK_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", s, err)
		}
	}
	fmt.Printf("soak: %d cycles, seed %d (replay: make soak SOAK_CYCLES=%d SOAK_SEED=%d)\n", cycles, seed, cycles, seed)
	n := newCNINode(t)
	n.writeFlannel("0.3.1", n.e.entry(map[string]any{"add-timeout": "1s", "del-timeout": "1s", "log-level": "info"}))
	queueDir := filepath.Join(n.e.dir, "deleteQueue")
	rng := rand.New(rand.NewPCG(seed, 7))

	const slots = 8
	pods := make([]ns.NetNS, slots) // nil: slot free
	counts := map[string]int{}
	destroy := func(i int) {
		pods[i].Close()
		_ = testutils.UnmountNS(pods[i])
		pods[i] = nil
	}
	defer func() {
		for i := range pods {
			if pods[i] != nil {
				destroy(i)
			}
		}
	}()

	start := time.Now()
	defer soakSummary(t, cycles, seed, start, counts)
	for c := range cycles {
		fault := injectRandomFault(n.e.agent, rng)
		counts["fault:"+fault]++
		i := rng.IntN(slots)
		if pods[i] == nil {
			pod, err := testutils.NewNS()
			if err != nil {
				t.Fatal(err)
			}
			pods[i] = pod
			if _, err := n.cnitool("add", pod, "IgnoreUnknown=1;CILIUM_LABEL_app=soak"); err != nil {
				counts["add failed"]++
				if _, derr := n.cnitool("del", pod, ""); derr != nil { // the runtime cleans up a failed ADD
					t.Fatalf("cycle %d: DEL after failed ADD: %v", c, derr)
				}
				destroy(i)
			} else {
				counts["add ok"]++
			}
		} else {
			if _, err := n.cnitool("del", pods[i], ""); err != nil {
				t.Fatalf("cycle %d: DEL failed (%s): %v", c, fault, err)
			}
			counts["del ok"]++
			destroy(i)
		}
		if fault == "down" {
			counts["queue drained"] += restartAgent(t, n.e.agent, queueDir)
		}
		n.e.agent.ClearFaults()
		n.e.agent.SetRateLimit(0, 0, 0)
	}

	// Recovery, then GC with the live pods as valid attachments.
	counts["queue drained"] += restartAgent(t, n.e.agent, queueDir)
	var valid []string
	for _, p := range pods {
		if p != nil {
			valid = append(valid, cnitoolContainerID(p)+":eth0")
		}
	}
	before := len(n.e.agent.Endpoints())
	n.gcOurs(valid)
	counts["gc collected"] = before - len(n.e.agent.Endpoints())

	got := []string{}
	for _, ep := range n.e.agent.Endpoints() {
		got = append(got, ep.Status.ExternalIdentifiers.CniAttachmentID)
	}
	sort.Strings(got)
	sort.Strings(valid)
	if strings.Join(got, ",") != strings.Join(valid, ",") {
		t.Fatalf("agent holds %v, live pods are %v", got, valid)
	}
	if q, _ := filepath.Glob(filepath.Join(queueDir, "*.delete")); len(q) != 0 {
		t.Fatalf("queue not empty: %v", q)
	}

	// Tear the rest down through the chain and look for leaks.
	for i := range pods {
		if pods[i] != nil {
			if _, err := n.cnitool("del", pods[i], ""); err != nil {
				t.Fatal(err)
			}
			destroy(i)
		}
	}
	leaks := n.leaks()
	if len(n.e.agent.Endpoints()) != 0 {
		leaks = append(leaks, fmt.Sprintf("%d endpoints", len(n.e.agent.Endpoints())))
	}
	counts["leaks"] = len(leaks)
	if len(leaks) > 0 {
		t.Fatalf("leaked: %v", leaks)
	}
}

// soakMinAddShare is the share of ADDs that must succeed: 45% of the cycles inject a fault, but only
// "down" and "500" (14% of the cycles) make an ADD fail by design; the retries absorb the others
// (86% succeeded in a 150-cycle run; below 75% is 3 standard deviations off at that length).
const soakMinAddShare = 0.75

// soakSummary prints the counts, also when the soak fails half-way, and fails the soak if too few
// ADDs succeeded.
func soakSummary(t *testing.T, cycles int, seed uint64, start time.Time, counts map[string]int) {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	summary := []string{fmt.Sprintf("cycles=%d seed=%d", cycles, seed), fmt.Sprintf("duration=%s", time.Since(start).Round(time.Second))}
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	fmt.Println("soak:", strings.Join(summary, " "))
	adds := counts["add ok"] + counts["add failed"]
	if share := float64(counts["add ok"]) / float64(max(adds, 1)); adds > 0 && share < soakMinAddShare {
		t.Errorf("only %d of %d ADDs succeeded (%.0f%%, want ≥ %.0f%%): failures beyond what the faults explain",
			counts["add ok"], adds, 100*share, 100*soakMinAddShare)
	}
}

// injectRandomFault sets one fault for the next operation and names it.
func injectRandomFault(agent *fakeagent.Agent, rng *rand.Rand) string {
	switch r := rng.IntN(100); {
	case r < 55:
		return "none"
	case r < 65:
		agent.Down()
		return "down"
	case r < 75:
		agent.SetDelay(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		return "slow"
	case r < 85:
		agent.Inject(fakeagent.Fault{Status: 429, RetryAfter: 0, Count: 1 + rng.IntN(3)})
		return "429"
	case r < 92:
		agent.Inject(fakeagent.Fault{Status: 503, Count: 1 + rng.IntN(3)})
		return "503"
	case r < 96:
		agent.SetRateLimit(2, 1, 1)
		return "ratelimit"
	default:
		agent.Inject(fakeagent.Fault{Method: "PUT", Status: 500, Count: 1})
		return "500"
	}
}

// restartAgent brings the fake back the way the real agent starts: drain the queue, then serve.
func restartAgent(t *testing.T, agent *fakeagent.Agent, queueDir string) int {
	t.Helper()
	if err := os.MkdirAll(queueDir, 0o755); err != nil {
		t.Fatal(err)
	}
	drained, err := agent.DrainQueue(queueDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Up(); err != nil {
		t.Fatal(err)
	}
	return drained
}

// cnitoolContainerID is the container ID cnitool derives from the netns path.
func cnitoolContainerID(pod ns.NetNS) string {
	s := sha512.Sum512([]byte(pod.Path()))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// gcOurs runs cilium-chain's GC directly with a 1.1.0 config of the same network: libcni only sends GC
// to 1.1.0 conflists, and Flannel v0.9.1 cannot be in one.
func (n *cniNode) gcOurs(valid []string) {
	n.t.Helper()
	m := n.e.entry(map[string]any{"add-timeout": "1s"})
	m["cniVersion"], m["name"] = "1.1.0", n.network
	var atts []map[string]string
	for _, v := range valid {
		cid, ifname, _ := strings.Cut(v, ":")
		atts = append(atts, map[string]string{"containerID": cid, "ifname": ifname})
	}
	m["cni.dev/valid-attachments"] = atts
	stdin, _ := json.Marshal(m)
	run(n.t, "GC", stdin, map[string]string{"CNI_CONTAINERID": "<unset>", "CNI_IFNAME": "<unset>", "CNI_NETNS": "<unset>"}).wantCode(n.t, 0, "")
}

// leaks lists what the chain left in the node: bridge ports, IP reservations, libcni cache entries.
func (n *cniNode) leaks() []string {
	var out []string
	_ = n.ns.Do(func(ns.NetNS) error {
		links, _ := netlinksafe.LinkList()
		for _, l := range links {
			if l.Type() == "veth" {
				out = append(out, "veth "+l.Attrs().Name)
			}
		}
		return nil
	})
	ips, _ := filepath.Glob(filepath.Join(n.e.dir, "ipam", "*", "10.*"))
	for _, ip := range ips {
		out = append(out, "ip reservation "+filepath.Base(ip))
	}
	cache, _ := filepath.Glob("/var/lib/cni/results/" + n.network + "-*")
	for _, c := range cache {
		out = append(out, "libcni cache "+filepath.Base(c))
	}
	recs, _ := filepath.Glob(filepath.Join(n.e.dir, "state", n.network, "*"))
	for _, r := range recs {
		out = append(out, "attachment record "+filepath.Base(r))
	}
	return out
}
