//go:build cluster

package cluster

import (
	"fmt"
	"strings"
	"time"
)

// timings are the figures issue 7 asks for, measured in this run (build times: run.sh).
type timings struct {
	apiServer      time.Duration // start of etcd → kube-apiserver /readyz
	clusterUp      time.Duration // start of etcd → node Ready with Flannel's config
	oldPodReady    time.Duration // kubectl apply → Ready, Flannel only
	agentLockWait  time.Duration // waiting for /run/cilium-chain-agent.lock and for other agents to end
	agentUp        time.Duration // agent start → API Ok and host endpoint ready
	installerReady time.Duration // kubectl apply -f manifest → DaemonSet ready (conflist written)
	firstChainPod  time.Duration // kubectl apply → Ready, first pod through Flannel → cilium-chain
	chainPods      []time.Duration
	oldPodDelete   time.Duration // kubectl delete → sandbox gone, through the new chain
	rollout        time.Duration // kubectl set image → rollout complete
	uninstall      time.Duration // kubectl delete -f manifest → DaemonSet gone
	total          time.Duration
}

func (tm *timings) String() string {
	var b strings.Builder
	row := func(name string, d time.Duration) {
		fmt.Fprintf(&b, "  %-58s %8.1f s\n", name, d.Seconds())
	}
	row("kube-apiserver ready (from etcd start)", tm.apiServer)
	row("cluster up: node Ready with Flannel (from etcd start)", tm.clusterUp)
	row("old pod Ready through Flannel only", tm.oldPodReady)
	row("waiting for the agent lock / other agents", tm.agentLockWait)
	row("cilium-agent up (API Ok, host endpoint ready)", tm.agentUp)
	row("installer ready (kubectl apply → DaemonSet ready)", tm.installerReady)
	row("first pod Ready through Flannel → cilium-chain", tm.firstChainPod)
	for i, d := range tm.chainPods {
		row(fmt.Sprintf("  chained pod %d Ready", i+1), d)
	}
	row("old pod deleted through the new chain", tm.oldPodDelete)
	row("installer rollout to the second image", tm.rollout)
	row("uninstall (kubectl delete -f manifest)", tm.uninstall)
	row("whole test", tm.total)
	return b.String()
}
