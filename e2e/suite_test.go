//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// suite shares one node and one agent across the steps of TestAgent: they run in order, and later
// steps use the pods earlier ones attached.
type suite struct {
	*env
	tm timings
	// a and b are app=test, c is app=other (the seed scenario); d is DELeted while the agent is down
	// and q, the control, is not; e and f are CHECKed, g is GCed, h uses upstream's entry shape; i's
	// DEL meets a failing live agent, m has two interfaces, j and k are for the route MTU without and
	// with the agent flag; the burst is ADDed while the agent is killed.
	a, b, c, d, e, f, g, h, q *pod
	i, m, j, k                *pod
	burst                     []*pod
}

// TestAgent is issue 3, end to end against the real cilium-agent.
func TestAgent(t *testing.T) {
	e := newEnv(t)
	e.tl.requirePlugin(t)
	s := &suite{env: e, tm: timings{agentBuild: e.tl.agentBuildSeconds()}}
	e.agent.start(t)
	// Pod netns are made here, on the top-level test, so they outlive the steps that attach them.
	test, other := map[string]string{"app": "test"}, map[string]string{"app": "other"}
	s.a, s.b, s.c = newPod(t, "a", test), newPod(t, "b", test), newPod(t, "c", other)
	s.d, s.e, s.f = newPod(t, "d", other), newPod(t, "e", other), newPod(t, "f", other)
	s.g, s.h, s.q = newPod(t, "g", other), newPod(t, "h", test), newPod(t, "q", other)
	s.i, s.m, s.j, s.k = newPod(t, "i", other), newPod(t, "m", other), newPod(t, "j", other), newPod(t, "k", other)

	for i := range 6 {
		s.burst = append(s.burst, newPod(t, fmt.Sprintf("burst%d", i), other))
	}

	steps := []struct {
		name     string
		run      func(t *testing.T)
		required bool // later steps make no sense without it
	}{
		{"1_add_endpoint_ready", s.stepAdd, true},
		{"2_programs_on_host_veth", s.stepPrograms, false},
		{"3_policy_l3_l4", s.stepPolicy, false},
		{"4_del", s.stepDel, false},
		{"5_agent_down_del_queued", s.stepQueue, false},
		{"6a_check", s.stepCheck, false},
		{"6b_status", s.stepStatus, false},
		{"6c_gc_valid_attachments", s.stepGC, false},
		{"7_upstream_entry", s.stepUpstream, false},
		{"8_cnitool_gc_all", s.stepCnitoolGC, false},
		{"9_del_live_agent_500", s.stepDelLiveAgent500, false},
		{"10_multus_two_endpoints", s.stepMultus, false},
		{"11_agent_killed_during_adds", s.stepAgentKilled, false},
		{"12_route_mtu_agent_flag", s.stepRouteMTU, false}, // last: restarts the agent with the flag
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) && st.required {
			t.Fatalf("step %s failed; the later steps depend on it", st.name)
		}
	}
	s.tm.agentAPIUps, s.tm.agentStarts = e.agent.apiUps, e.agent.startups
	t.Logf("timings:\n%s", &s.tm)
}

// addTimed runs ADD and records the time.
func (s *suite) addTimed(t *testing.T, confDir string, p *pod) {
	t.Helper()
	s.tm.add(s.cni.add(t, confDir, p))
}

// delTimed runs DEL and records the time.
func (s *suite) delTimed(t *testing.T, confDir string, p *pod) time.Duration {
	t.Helper()
	d := s.cni.del(t, confDir, p)
	s.tm.dels = append(s.tm.dels, d)
	return d
}
