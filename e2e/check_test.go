//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// Codes documented by cilium-chain (plugin/errors.go) for a pod whose veth is gone.
const (
	codeInterfaceMismatch = 102
	codePeerNotFound      = 103
)

// stepCheck — assertion 6, CHECK: passes on healthy pods under real Flannel at 0.4.0 (the newest
// version that Flannel speaks; libcni refuses CHECK below 0.4.0) and under the 1.0.0 variant; fails
// with cilium-chain's code once E's host veth is deleted behind its back (Flannel's CHECK is a
// no-op, so the failure is the plugin's).
func (s *suite) stepCheck(t *testing.T) {
	s.addTimed(t, s.confs.check, s.e)
	waitEndpointReady(t, s.agent.api, s.e)
	s.addTimed(t, s.confs.v100, s.f)
	waitEndpointReady(t, s.agent.api, s.f)

	for _, c := range []struct {
		p    *pod
		conf string
	}{{s.e, s.confs.check}, {s.f, s.confs.v100}} {
		if res := s.cni.cnitool(c.conf, "check", c.p); res.Err != nil {
			t.Errorf("CHECK %s on a healthy pod: %v", c.p, res.Err)
		} else {
			t.Logf("CHECK %s: ok in %s", c.p, res.Took.Round(time.Millisecond))
		}
	}

	// Delete E's host veth in the node netns; the kernel takes eth0 in the pod with it.
	h, err := netlinkIn(s.node.ns)
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName(s.e.hostVeth)
	if err == nil {
		err = h.LinkDel(l)
	}
	h.Close()
	if err != nil {
		t.Fatalf("delete host veth %s of e: %v", s.e.hostVeth, err)
	}
	if res := s.cni.cnitool(s.confs.check, "check", s.e); res.Err == nil {
		t.Errorf("CHECK e after its host veth was deleted: succeeded, want failure")
	}
	reply := s.cni.libcni(t, podRequest("check", s.confs.check, s.e))
	switch {
	case reply.OK:
		t.Errorf("CHECK e (libcni) after its host veth was deleted: succeeded")
	case reply.Code != codeInterfaceMismatch && reply.Code != codePeerNotFound:
		t.Errorf("CHECK e: code %d (%s), want %d (interface mismatch) or %d (peer not found)", reply.Code, reply.Msg, codeInterfaceMismatch, codePeerNotFound)
	default:
		t.Logf("CHECK e without its veth: code %d: %s", reply.Code, reply.Msg)
	}

	// DEL still cleans up the broken pod.
	s.delTimed(t, s.confs.check, s.e)
	if err := waitEndpointGone(s.agent.api, s.e, 10*time.Second); err != nil {
		t.Error(err)
	}
}
