package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Route MTU follows upstream: set the agent's route MTU on the pod's routes when the conflist says
// enable-route-mtu or the agent runs with enable-route-mtu-for-cni-chaining. The agent's side needs
// GET /config, which would double the round trips of every ADD; its answer cannot change without an
// agent restart, and a restart re-creates the socket. So the answer is cached in the state dir, keyed
// by the socket's inode and change time: one stat and one small tmpfs read per ADD, one GET /config
// per agent start.

// agentRouteConfig is what ADD needs from GET /config.
type agentRouteConfig struct {
	Boot           string `json:"boot"`
	EnableRouteMTU bool   `json:"enableRouteMTUForCNIChaining"`
	RouteMTU       int64  `json:"routeMTU"`
}

const agentConfigCache = "agent-route-config.json"

// agentBoot identifies the agent instance behind the socket without asking it; "" if there is none.
func agentBoot(socket string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(socket, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}

// routeConfig returns the agent's route settings, from the cache when it is the same agent.
func (c *Call) routeConfig(ctx context.Context) (agentRouteConfig, error) {
	cachePath := filepath.Join(c.Conf.StateDir, agentConfigCache)
	boot := agentBoot(c.Conf.SocketPath)
	var cached agentRouteConfig
	if b, err := os.ReadFile(cachePath); err == nil && json.Unmarshal(b, &cached) == nil && boot != "" && cached.Boot == boot {
		return cached, nil
	}
	cfg, err := c.agent.Config(ctx)
	if err != nil {
		return agentRouteConfig{}, fmt.Errorf("reading agent config for the route MTU: %w", err)
	}
	got := agentRouteConfig{Boot: agentBoot(c.Conf.SocketPath)}
	if cfg != nil && cfg.Status != nil {
		got.EnableRouteMTU, got.RouteMTU = cfg.Status.EnableRouteMTUForCNIChaining, cfg.Status.RouteMTU
	}
	// Keyed by the boot seen after the answer: if the agent restarted in between, the key is the new
	// agent's and its answer is refetched next time at worst.
	if got.Boot == boot && boot != "" {
		if b, err := json.Marshal(got); err == nil {
			if err := os.MkdirAll(c.Conf.StateDir, 0o700); err == nil {
				err = writeFileReplace(cachePath, b, 0o600, false)
			}
			if err != nil {
				c.Log.WithError(err).Debug("caching the agent's route config")
			}
		}
	}
	return got, nil
}

// applyRouteMTU sets the route MTU when the conflist or the agent asks for it.
func (c *Call) applyRouteMTU(ctx context.Context, pod *podNetns) error {
	cfg, err := c.routeConfig(ctx)
	if err != nil {
		if c.Conf.EnableRouteMTU {
			return err
		}
		// Only the agent's option was in question: not worth failing a pod over; the next ADD asks again.
		c.Log.WithError(err).Warn("cannot tell whether the agent wants route MTUs set; leaving routes as they are")
		return nil
	}
	if !c.Conf.EnableRouteMTU && !cfg.EnableRouteMTU {
		return nil
	}
	if cfg.RouteMTU <= 0 {
		return fmt.Errorf("%w: route MTU: the agent reports none", ErrAgentFailed)
	}
	return pod.setRouteMTU(int(cfg.RouteMTU))
}
