#!/usr/bin/env bash
# nsinit.sh — PID 1 of the cluster's namespaces (run.sh starts it with `unshare --net --mount --pid
# --fork`). It gives the namespaces a node's file system view without touching the host's:
#   - /run is a private tmpfs: /run/containerd, /run/netns (pod netns), /run/cilium, /run/flannel live
#     and die here (the host's /run stays reachable at $WORK/hostrun for the agent lock);
#   - /etc, /opt, /var/lib, /var/log are overlays whose writes land in $WORK/overlay: /etc/cni/net.d,
#     /opt/cni/bin (the manifest's hostPaths), /var/lib/cni, /var/lib/kubelet/device-plugins,
#     /var/log/pods and /var/log/containers never appear on the host;
#   - /sys is this netns's sysfs (with the host's cgroup hierarchies bound back), /proc this pid ns's;
#   - the netns gets lo and a veth pair ext0/ext1 as the node's "uplink" (10.99.0.1/24).
# Then it runs the test binary as a child and waits: as PID 1 it reaps the orphans containerd's shims
# leave, and when it exits the kernel kills whatever is still running in the pid ns, so a crashed or
# timed-out test cannot leave a process behind. Mounts vanish with the mount ns.
#
# Usage (from run.sh only): nsinit.sh <work dir> <test binary> [test flags...]
set -euo pipefail

WORK=$1
shift
say() { printf '[nsinit] %s\n' "$*" >&2; }
trap 'say "namespace setup failed at line $LINENO: $BASH_COMMAND"' ERR

[[ $$ == 1 ]] || { say "must be PID 1 of a new pid namespace (run it through run.sh)"; exit 2; }

mounts() {
	# The new mount namespace starts as a copy of the host's, including other runs' netns files and
	# bpffs mounts: drop those copies (here only), or this namespace would keep their network
	# namespaces and BPF maps alive until it ends.
	local m
	# (findmnt exits 1 when there is none.)
	{ findmnt -rn -t nsfs,bpf -o TARGET || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	# Keep a handle on the host's /run and /proc before they are covered.
	mkdir -p "$WORK/hostrun" "$WORK/hostproc" "$WORK/cgroup"
	mount --bind /run "$WORK/hostrun"
	mount --rbind /proc "$WORK/hostproc"
	# The host's /run/netns may be a mount of its own (ip netns makes one): drop this copy, so the
	# node's /run/netns is the tmpfs below. That tmpfs is shared, as / is on a systemd node: a
	# container mounting /var/run/netns with HostToContainer (the installer, for adoption) then sees
	# netns files come and go; the runtime refuses that mount from a private one.
	umount -l /run/netns 2>/dev/null || true
	mount -t tmpfs -o mode=0755,size=512m cluster-run /run
	mount --make-shared /run
	mkdir -p /run/netns /run/lock
	local d
	for d in etc opt var/lib var/log; do
		local o=$WORK/overlay/${d//\//-}
		mkdir -p "$o/upper" "$o/work"
		mount -t overlay "cluster-${d//\//-}" -o "lowerdir=/$d,upperdir=$o/upper,workdir=$o/work" "/$d"
	done
	# sysfs of this netns; the cgroup hierarchies are the host's, bound back over it.
	mount --rbind /sys/fs/cgroup "$WORK/cgroup"
	mount -t sysfs cluster-sys /sys
	mount --rbind "$WORK/cgroup" /sys/fs/cgroup
	umount -l "$WORK/cgroup"
	mount -t proc cluster-proc /proc
}

network() {
	ip link set lo up
	ip link add ext0 type veth peer name ext1
	ip addr add 10.99.0.1/24 dev ext0
	ip link set ext1 up
	ip link set ext0 up
	ip route add default via 10.99.0.2 dev ext0
}

mounts
network
say "namespaces ready (net, mount, pid); running $(basename "$1")"
export CLUSTER_WORK=$WORK
trap - ERR
set +e
"$@" &
child=$!
# Forward run.sh's SIGTERM/SIGINT to the test so its cleanups run; `wait` returns early on a signal.
trap 'kill -TERM $child 2>/dev/null' TERM INT
while :; do
	wait "$child"
	rc=$?
	kill -0 "$child" 2>/dev/null || break
done
# Anything still alive now escaped the test's own cleanup: report it (the kernel kills it when we exit).
# (ps writes to a file first: a command substitution's subshell would list itself.)
ps -e -o pid=,comm= >"$WORK/ps.txt" 2>/dev/null
left=$(awk '$1 != 1 && $2 != "ps"' "$WORK/ps.txt")
if [[ -n $left ]]; then
	say "processes left by the test (killed as the pid namespace ends):"
	printf '%s\n' "$left" >&2
	((rc == 0)) && rc=3
fi
exit "$rc"
