//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepAgentKilled — the regeneration wait under a crash: a burst of ADDs runs, and the agent is
// SIGKILLed the moment it lists one of their endpoints still in its first regeneration (its PUT
// answered), then started again. The agent is back well within add-timeout, so every ADD succeeds:
// ADD waits out the lost connections and registers again an endpoint the agent did not restore. Each
// endpoint is ready, with its programs on the host veth, and the DELs leave no endpoint, record or IP.
// The kill must have caught an ADD in its wait.
func (s *suite) stepAgentKilled(t *testing.T) {
	logFrom := fileSize(s.conf.pluginLog())
	began := time.Now()
	results := make([]cmdResult, len(s.burst))
	returned := make([]time.Time, len(s.burst))
	var wg sync.WaitGroup
	for i, p := range s.burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.cni.cnitool(s.confs.seed, "add", p)
			returned[i] = time.Now()
		}()
	}
	var waiting []*pod // endpoints the agent had at the kill, their first regeneration not done
	err := peer.Eventually(time.Minute, 10*time.Millisecond, func() error {
		eps, err := cniEndpoints(s.agent.api)
		if err != nil {
			return err
		}
		for _, p := range s.burst {
			if ep, ok := eps[p.containerID()]; ok && peer.RealizedRevision(ep) < 1 {
				waiting = append(waiting, p)
			}
		}
		if len(waiting) == 0 {
			return fmt.Errorf("no endpoint of the burst is regenerating yet")
		}
		return nil
	})
	if err != nil {
		wg.Wait()
		t.Fatalf("waiting for an endpoint of the burst in its first regeneration: %v", err)
	}
	killed := time.Now()
	s.agent.kill(t)
	s.agent.start(t)
	wg.Wait()

	var midWait []string
	for i, p := range s.burst {
		if returned[i].After(killed) && slices.Contains(waiting, p) {
			midWait = append(midWait, p.name)
		}
	}
	if len(midWait) == 0 {
		t.Errorf("no ADD was waiting for its regeneration at the kill (regenerating then: %v): the step tested nothing", waiting)
	}
	for i, p := range s.burst {
		res := results[i]
		if res.Err != nil {
			t.Errorf("ADD %s failed in %s although the agent was back within add-timeout: %v", p, res.Took.Round(time.Millisecond), res.Err)
			continue
		}
		if err := p.takeResult(res.Stdout); err != nil {
			t.Fatalf("ADD %s printed an invalid result: %v", p, err)
		}
		waitEndpointReady(t, s.agent.api, p)
		requirePrograms(t, s.node, p)
		t.Logf("ADD %s succeeded in %s", p, res.Took.Round(time.Millisecond))
	}
	pluginLog := logSince(t, s.conf.pluginLog(), logFrom)
	t.Logf("agent killed %s after the burst began, ADDs in their wait then: %v; the plugin registered again %d endpoints the agent lost, retried %d PUTs whose answer was lost",
		killed.Sub(began).Round(time.Millisecond), midWait,
		strings.Count(pluginLog, "registering it again"), strings.Count(pluginLog, "connection lost during PUT"))
	for _, p := range s.burst {
		s.cni.del(t, s.confs.seed, p)
		s.requireNothingLeft(t, p)
	}
}

// requireNothingLeft fails unless the agent has no endpoint for p, and neither cilium-chain's state
// dir nor host-local's store holds anything of its container.
func (s *suite) requireNothingLeft(t *testing.T, p *pod) {
	t.Helper()
	if err := waitEndpointGone(s.agent.api, p, 30*time.Second); err != nil {
		t.Errorf("%s: %v", p, err)
	}
	if peer.FileExists(filepath.Join(s.conf.stateDir(), netName, p.containerID()+":"+p.ifname)) {
		t.Errorf("%s: cilium-chain's record is left", p)
	}
	ipam := filepath.Join(s.conf.dir, "ipam", netName)
	entries, err := os.ReadDir(ipam)
	if err != nil {
		t.Fatalf("host-local store: %v", err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(ipam, e.Name())); err == nil && strings.Contains(string(b), p.containerID()) {
			t.Errorf("%s: host-local still reserves %s for it", p, e.Name())
		}
	}
}
