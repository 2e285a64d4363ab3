//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// CNI codes the plugin returns while the agent is down.
const (
	codeTryAgainLater      = 11 // spec: ADD/CHECK cannot reach the agent
	codePluginNotAvailable = 50 // spec: STATUS, the plugin cannot serve ADDs now
)

// stepStatus — assertion 6, STATUS (cniVersion 1.1.0): succeeds with the agent up, fails with code 50
// while it is stopped, and succeeds again after a restart. While it is down, CHECK answers 11.
func (s *suite) stepStatus(t *testing.T) {
	if res := s.cni.cnitool(s.confs.v110, "status", s.f); res.Err != nil {
		t.Errorf("STATUS with the agent up: %v", res.Err)
	}
	if r := s.cni.libcni(t, libcniRequest{Op: "status", ConfDir: s.confs.v110}); !r.OK {
		t.Errorf("STATUS (libcni) with the agent up: code %d: %s", r.Code, r.Msg)
	}

	s.agent.stop(t)
	if res := s.cni.cnitool(s.confs.v110, "status", s.f); res.Err == nil {
		t.Errorf("STATUS with the agent stopped: succeeded, want failure")
	}
	r := s.cni.libcni(t, libcniRequest{Op: "status", ConfDir: s.confs.v110})
	if r.OK || r.Code != codePluginNotAvailable {
		t.Errorf("STATUS with the agent stopped: ok=%v code %d (%s), want code %d", r.OK, r.Code, r.Msg, codePluginNotAvailable)
	} else {
		t.Logf("STATUS with the agent stopped: code %d: %s", r.Code, r.Msg)
	}
	began := time.Now()
	r = s.cni.libcni(t, podRequest("check", s.confs.v100, s.f))
	if r.OK || r.Code != codeTryAgainLater {
		t.Errorf("CHECK with the agent stopped: ok=%v code %d (%s), want code %d", r.OK, r.Code, r.Msg, codeTryAgainLater)
	} else {
		t.Logf("CHECK with the agent stopped: code %d after %s: %s", r.Code, time.Since(began).Round(time.Millisecond), r.Msg)
	}

	s.agent.start(t)
	if res := s.cni.cnitool(s.confs.v110, "status", s.f); res.Err != nil {
		t.Errorf("STATUS after the restart: %v", res.Err)
	}
	for _, p := range []*pod{s.a, s.b, s.f} {
		waitEndpointReady(t, s.agent.api, p)
	}
}
