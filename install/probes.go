package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// probeHandler serves the probe port: /readyz (readiness), /healthz (liveness), /metrics.
func (in *installer) probeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/readyz", in.ready)
	mux.HandleFunc("/healthz", in.serveHealthz)
	mux.Handle("/metrics", promhttp.HandlerFor(in.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// stuckAfter is how long the loop may go without finishing a round before the liveness check fails:
// a round runs at least every --resync, and one round waits at most a few seconds on the agent.
func (in *installer) stuckAfter() time.Duration { return max(3*in.cfg.resync, 30*time.Second) }

// serveHealthz fails when the reconcile loop is stuck (e.g. a write hanging on the host's file
// system), so the kubelet restarts the container.
func (in *installer) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	last := time.Unix(0, in.lastRound.Load())
	if idle := in.now().Sub(last); idle > in.stuckAfter() {
		http.Error(w, fmt.Sprintf("reconcile loop stuck: no round finished for %s", idle.Round(time.Second)), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// shippedPluginVersion names the plugin binary in the image by its own about line, for /readyz.
func shippedPluginVersion(binary string) string {
	v, err := pluginVersion(binary)
	if err != nil {
		return fmt.Sprintf("%s (version unknown: %v)", pluginType, err)
	}
	return pluginType + " " + v
}
