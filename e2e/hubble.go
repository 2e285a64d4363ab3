//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// withHubble turns the agent's Hubble server on, on sock, in the common flags (which turn it off);
// an empty sock keeps them as they are.
func withHubble(flags []string, sock string) []string {
	if sock == "" {
		return flags
	}
	out := []string{"--enable-hubble=true", "--hubble-socket-path=" + sock}
	for _, f := range flags {
		if f != "--enable-hubble=false" {
			out = append(out, f)
		}
	}
	return out
}

// hubbleFlow asks the agent's Hubble (the CLI on its observer socket) for the flow src → dst:port
// with this verdict (flows reach Hubble shortly after the packet) and returns it as a line.
func hubbleFlow(tl tools, sock string, src, dst *pod, port int, verdict, dropReason string) (string, error) {
	var line string
	err := peer.Eventually(10*time.Second, 500*time.Millisecond, func() error {
		flows, err := peer.HubbleObserve(tl.bin("hubble"), sock, "--to-ip", dst.ip.String())
		if err != nil {
			return err
		}
		f := peer.FindFlow(flows, src.ip.String(), dst.ip.String(), port, verdict, dropReason)
		if f == nil {
			return fmt.Errorf("hubble shows no %s flow %s → %s:%d (%d flows to %s)", strings.TrimSpace(verdict+" "+dropReason), src.ip, dst.ip, port, len(flows), dst.ip)
		}
		line = f.String()
		return nil
	})
	return line, err
}
