#!/usr/bin/env bash
# run.sh — runs the real-cluster e2e (TestCluster) in its own network, mount and pid namespaces and
# checks afterwards that the machine is as before.
#
# Host side, around the namespaces:
#   - before: records the global sysctls the kubelet and the agent change, and which node paths exist;
#   - runs nsinit.sh as PID 1 of `unshare --net --mount --pid --fork` with the compiled test;
#   - after (success or failure): restores any recorded sysctl that changed, removes the per-run
#     cgroup tree if anything is left of it, checks that no node path appeared on the host, that no
#     process of the run survives and nothing is mounted from the run dir; keeps the logs in
#     $CLUSTER_LOGS (default .work/cluster/logs, git-ignored) and removes the run dir.
# Peers (build.sh) and images (images.sh) must be there: `make e2e-cluster` builds them first.
#
# Usage: run.sh [go test flags, e.g. -test.run TestCluster/3]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/e2e/cluster
export PEER_DIR=${PEER_DIR:-$HOME/.cache/cilium-chain}
export CLUSTER_IMAGES=${CLUSTER_IMAGES:-$ROOT/.work/cluster/images}
CLUSTER_LOGS=${CLUSTER_LOGS:-$ROOT/.work/cluster/logs}
TEST_BIN=${TEST_BIN:-$ROOT/.work/cluster/cluster.test}
TIMEOUT=${CLUSTER_TIMEOUT:-40m}
say() { printf '[e2e-cluster] %s\n' "$*" >&2; }

# Global (not per-netns) sysctls: the kubelet sets the first six at start (protectKernelDefaults is
# off), the agent the last three.
SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys
	kernel/keys/root_maxbytes net/core/bpf_jit_enable kernel/unprivileged_bpf_disabled kernel/timer_migration)
# Paths of a node that must never appear on the host (nsinit.sh makes them private). Not listed: paths
# other tests on this machine create on the host themselves (/var/lib/cni/results by cnitool,
# /var/run/cilium by the e2e agents, ...).
NODE_PATHS=(/etc/cni /opt/cni /var/lib/kubelet /var/log/pods /var/log/containers /run/containerd
	/run/flannel /var/log/cilium-chain)

[[ $(id -u) == 0 ]] || { say "needs root"; exit 1; }
[[ -x $TEST_BIN ]] || { say "no test binary $TEST_BIN (make e2e-cluster builds it)"; exit 1; }
[[ -f $CLUSTER_IMAGES/images.json ]] || { say "no images in $CLUSTER_IMAGES (make e2e-cluster builds them)"; exit 1; }

export CLUSTER_REPO=$ROOT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cilium-chain-cluster.XXXXXX")
export CLUSTER_CGROUP_ROOT=/${WORK##*/}
declare -A SYSCTL_BEFORE PATH_BEFORE
for s in "${SYSCTLS[@]}"; do SYSCTL_BEFORE[$s]=$(cat "/proc/sys/$s" 2>/dev/null || echo '?'); done
for p in "${NODE_PATHS[@]}"; do [[ -e $p ]] && PATH_BEFORE[$p]=1; done

NS_PID=
on_signal() {
	say "interrupted: stopping the test (its cleanups run), then the namespaces"
	local init
	init=$(pgrep -P "$NS_PID" 2>/dev/null | head -1)
	[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
}
trap on_signal INT TERM

after() {
	local rc=$1 fail=0 s now p left i
	# When PID 1 ends, the kernel kills the rest of the pid ns: give the dying a moment to leave their
	# cgroups before looking.
	for ((i = 0; i < 50; i++)); do
		pgrep -f "$WORK" >/dev/null 2>&1 || break
		sleep 0.2
	done
	for s in "${SYSCTLS[@]}"; do
		now=$(cat "/proc/sys/$s" 2>/dev/null || echo '?')
		[[ $now == "${SYSCTL_BEFORE[$s]}" ]] && continue
		if echo "${SYSCTL_BEFORE[$s]}" >"/proc/sys/$s" 2>/dev/null; then
			say "restored sysctl ${s//\//.}: $now → ${SYSCTL_BEFORE[$s]}"
		else
			# kernel.unprivileged_bpf_disabled=1 cannot be undone by design; anything else is a failure.
			say "WARNING: sysctl ${s//\//.} is $now (was ${SYSCTL_BEFORE[$s]}) and cannot be restored"
		fi
	done
	# One cgroup root per node: node 1's, node 2's (the same name with -node2).
	for h in /sys/fs/cgroup/*; do
		for cg in "$h$CLUSTER_CGROUP_ROOT" "$h$CLUSTER_CGROUP_ROOT-node2"; do
			[[ -d $cg ]] || continue
			say "FAIL: cgroup $cg survived the test's cleanup; removing it"
			for ((i = 0; i < 10; i++)); do
				find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
				[[ -d $cg ]] || break
				sleep 0.5
			done
			[[ -d $cg ]] && say "FAIL: cannot remove $cg"
			fail=1
		done
	done
	for p in "${NODE_PATHS[@]}"; do
		if [[ -e $p && -z ${PATH_BEFORE[$p]:-} ]]; then
			say "FAIL: $p appeared on the host"
			fail=1
		fi
	done
	left=$(pgrep -f -a "$WORK" 2>/dev/null)
	if [[ -n $left ]]; then
		say "FAIL: processes of the run survive: $left"
		fail=1
	fi
	if grep -q "$WORK" /proc/self/mountinfo; then
		say "FAIL: mounts from $WORK are visible on the host"
		fail=1
	fi
	rm -rf "$CLUSTER_LOGS"
	mkdir -p "$(dirname "$CLUSTER_LOGS")"
	[[ -d $WORK/logs ]] && cp -r "$WORK/logs" "$CLUSTER_LOGS"
	rm -rf "$WORK"
	((fail == 0)) && say "host checks: sysctls as before, no node path, cgroup, process or mount left on the host"
	((rc == 0 && fail)) && rc=1
	return "$rc"
}

say "run dir $WORK; logs will be kept in $CLUSTER_LOGS"
start=$SECONDS
# --kill-child: if unshare dies, PID 1 (and with it every process of the pid ns) is killed too.
unshare --net --mount --pid --fork --propagation private --kill-child -- \
	bash "$HERE/nsinit.sh" "$WORK" "$TEST_BIN" -test.v -test.count=1 -test.timeout="$TIMEOUT" "$@" &
NS_PID=$!
wait "$NS_PID"
rc=$?
while kill -0 "$NS_PID" 2>/dev/null; do wait "$NS_PID"; rc=$?; done
say "test exited with $rc after $((SECONDS - start)) s"
after "$rc"
rc=$?
((rc == 0)) && say "PASS" || say "FAIL (logs: $CLUSTER_LOGS)"
exit "$rc"
