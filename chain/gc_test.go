package chain

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

func itoa(i int) string { return strconv.Itoa(i) }

func fakeFault(method string, status, count int) fakeagent.Fault {
	return fakeagent.Fault{Method: method, Status: status, Count: count}
}

func TestGCDeletesOnlyOwnStaleEndpoints(t *testing.T) {
	env := newTestEnv(t)
	conf := env.conf("1.1.0", nil)
	for _, cid := range []string{"live", "stale1", "stale2"} {
		env.register(env.call(conf, cid, "", "eth0", ""))
	}
	// An endpoint of this network whose ADD is still running: not yet valid, must survive.
	inflight := env.call(conf, "inflight", "", "eth0", "")
	env.register(inflight)
	_ = inflight.store.put(record{ContainerID: "inflight", IfName: "eth0", State: stateAdding, Updated: time.Now()})
	// Endpoints this plugin did not create (host/health endpoint, another plugin, another network).
	foreign := testRequest("someone-else")
	env.agent.AddForeign(foreign)
	otherNet := env.call(env.conf("1.1.0", map[string]any{"name": "othernet"}), "other-net-pod", "", "eth0", "")
	env.register(otherNet)

	gcConf := env.conf("1.1.0", map[string]any{"cni.dev/valid-attachments": []types.GCAttachment{{ContainerID: "live", IfName: "eth0"}}})
	wantKind(t, env.call(gcConf, "", "", "", "").GC(context.Background()), nil, "")

	left := map[string]bool{}
	for _, ep := range env.agent.Endpoints() {
		left[ep.Status.ExternalIdentifiers.ContainerID] = true
	}
	for cid, want := range map[string]bool{"live": true, "stale1": false, "stale2": false, "inflight": true, "someone-else": true, "other-net-pod": true} {
		if left[cid] != want {
			t.Errorf("endpoint %s present=%v, want %v", cid, left[cid], want)
		}
	}
}

func TestGCAgentUnavailable(t *testing.T) {
	env := newTestEnv(t)
	conf := env.conf("1.1.0", nil)
	env.register(env.call(conf, "stale", "", "eth0", ""))
	env.agent.Down()
	c := env.call(env.conf("1.1.0", map[string]any{"add-timeout": "300ms"}), "", "", "", "")
	wantKind(t, c.GC(context.Background()), ErrAgentUnavailable, "")
	if recs, _ := c.store.list(); len(recs) != 1 {
		t.Fatal("a record whose endpoint was not deleted must stay")
	}
}

func TestGCBoundedByItsOwnTimeout(t *testing.T) {
	// CRI-O runs GC exclusively: a slow agent must not hold it for add-timeout (60s by default).
	env := newTestEnv(t)
	env.register(env.call(env.conf("1.1.0", nil), "stale", "", "eth0", ""))
	env.agent.SetDelay(5 * time.Second)
	c := env.call(env.conf("1.1.0", map[string]any{"add-timeout": "60s", "gc-timeout": "300ms"}), "", "", "", "")
	start := time.Now()
	wantKind(t, c.GC(context.Background()), ErrAgentUnavailable, "")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("GC took %v with gc-timeout 300ms", d)
	}
}

func TestGCCollectsDotIfnameAndCleansTempFiles(t *testing.T) {
	env := newTestEnv(t)
	env.register(env.call(env.conf("1.1.0", nil), "stale", "", ".hidden", ""))
	netDir := filepath.Join(env.dir, "state", "testnet")
	tmp := filepath.Join(netDir, ".tmp-stale:eth0-123")
	_ = os.WriteFile(tmp, []byte("{"), 0o600)
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(tmp, old, old)
	c := env.call(env.conf("1.1.0", nil), "", "", "", "")
	wantKind(t, c.GC(context.Background()), nil, "")
	if len(env.agent.Endpoints()) != 0 {
		t.Fatal("the record of ifname .hidden was not collected")
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temp file of a killed writer left: %v", err)
	}
}
