#!/usr/bin/env bash
# nodeinit.sh — node 2's namespace holder. nsinit.sh runs it through `unshare --net --mount` (same
# pid namespace as the test): it gives the new mount namespace node 1's layout, built afresh from
# the host's directories (nsinit.sh bound them at $WORK/lower before covering them), so nothing of
# node 1 shows through:
#   - /run is a tmpfs of its own (containerd, netns, cilium, flannel of node 2), shared as node 1's;
#   - /etc, /opt, /var/lib, /var/log are overlays whose writes land in $WORK/<node>/overlay;
#   - /sys is this netns's sysfs with the cgroup hierarchies bound back;
# brings lo up, says ready and sleeps: the test starts node 2's processes with nsenter --target
# <this pid> --net --mount. It dies with the pid namespace.
#
# Usage (from nsinit.sh only): nodeinit.sh <work dir> <node>
set -euo pipefail

WORK=$1
NODE=$2
say() { printf '[nodeinit %s] %s\n' "$NODE" "$*" >&2; }
trap 'say "setup failed at line $LINENO: $BASH_COMMAND"' ERR

# Node 1's /run (and the host's under it) are copies here: drop them all, so the runtime, which
# finds the mount of /var/run/netns by path in mountinfo, sees only node 2's own /run. It is shared
# like node 1's (nsinit.sh): the installer mounts /var/run/netns with HostToContainer.
while mountpoint -q /run; do umount -l /run; done
{ findmnt -rn -o TARGET | grep '^/run/' || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
mount -t tmpfs -o mode=0755,size=512m "cluster-$NODE-run" /run
mount --make-shared /run
mkdir -p /run/netns /run/lock
for d in etc opt var/lib var/log; do
	o=$WORK/$NODE/overlay/${d//\//-}
	mkdir -p "$o/upper" "$o/work"
	mount -t overlay "cluster-$NODE-${d//\//-}" -o "lowerdir=$WORK/lower/${d//\//-},upperdir=$o/upper,workdir=$o/work" "/$d"
done
mkdir -p "$WORK/$NODE/cgroup"
mount --rbind /sys/fs/cgroup "$WORK/$NODE/cgroup"
mount -t sysfs "cluster-$NODE-sys" /sys
mount --rbind "$WORK/$NODE/cgroup" /sys/fs/cgroup
umount -l "$WORK/$NODE/cgroup"
ip link set lo up
trap - ERR
touch "$WORK/$NODE/ready"
exec sleep infinity
