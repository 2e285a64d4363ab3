#!/usr/bin/env bash
# build.sh — everything the real-cluster e2e (make e2e-cluster) runs, built once and cached under
# $PEER_DIR (outside the clone, so CI on the same machine reuses it):
#   - Debian runc and etcd; cnitool/Flannel/bridge/host-local/loopback; cilium-agent v1.20.2 (e2e/peers.sh)
#   - kube-apiserver/controller-manager/scheduler v1.35.4 (install/e2e-k8s.sh build)
#   - kubelet v1.35.4 (its own copy of e2e-k8s.sh's throwaway module, so concurrent builds never share
#     a go.sum being rewritten)
#   - containerd v2.2.1 + containerd-shim-runc-v2 + ctr (go install, CGO off, no btrfs/devmapper/zfs)
# Each piece records its build time in $PEER_DIR/bin/.<name>.buildtime (only when it really built).
#
# Usage: build.sh [all|kubelet|containerd|apt]
set -euo pipefail

PEER_DIR=${PEER_DIR:-$HOME/.cache/cilium-chain}
BIN=$PEER_DIR/bin
K8S_VERSION=${K8S_VERSION:-v1.35.4}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.2.1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$BIN"

say() { printf '[cluster-build] %s\n' "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# progress <name> <start epoch>: turns `go build -v` output into a line every 200 packages, keeps errors.
progress() {
	awk -v name="$1" -v s="$2" '{n++} n%200==0 {printf "[cluster-build]   %s: %d packages compiled (%d s)\n", name, n, systime()-s > "/dev/stderr"}
		/^(go: |#|.*\.go:[0-9]+)/ {print > "/dev/stderr"}'
}

apt_deps() {
	local missing=() pkg
	for pkg in runc etcd-server; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
	((${#missing[@]})) || return 0
	say "apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian enables etcd as a service; the cluster runs its own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
}

fresh() { [[ -x $BIN/$1 && $(cat "$BIN/.$1.version" 2>/dev/null) == "$2" ]]; }

kubelet() {
	fresh kubelet "$K8S_VERSION" && return
	local shared=$PEER_DIR/k8s-mod-$K8S_VERSION mod=$PEER_DIR/k8s-kubelet-mod-$K8S_VERSION start=$SECONDS
	# e2e-k8s.sh writes the module (k8s.io/kubernetes + every staging module replaced by its v0 tag).
	[[ -f $shared/go.mod ]] || bash "$ROOT/install/e2e-k8s.sh" build
	if [[ ! -f $mod/go.mod ]]; then
		mkdir -p "$mod"
		cp "$shared/go.mod" "$shared/doc.go" "$mod/"
		[[ -f $shared/go.sum ]] && cp "$shared/go.sum" "$mod/"
	fi
	local ver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ver+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
	say "building kubelet $K8S_VERSION (≈ 3 min cold on 2 idle cores, more when busy)"
	(cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags="-s -w $ver" -o "$BIN/kubelet.tmp" k8s.io/kubernetes/cmd/kubelet 2>&1 |
		progress kubelet "$(date +%s)")
	[[ -x $BIN/kubelet.tmp ]] || die "kubelet build produced nothing"
	mv "$BIN/kubelet.tmp" "$BIN/kubelet"
	echo "$K8S_VERSION" >"$BIN/.kubelet.version"
	echo "$((SECONDS - start))" >"$BIN/.kubelet.buildtime"
	say "kubelet built in $((SECONDS - start)) s"
}

containerd() {
	local b all=1
	for b in containerd containerd-shim-runc-v2 ctr; do fresh "$b" "$CONTAINERD_VERSION" || all=0; done
	((all)) && return
	local start=$SECONDS pkgs=() m=github.com/containerd/containerd/v2/cmd
	for b in containerd containerd-shim-runc-v2 ctr; do pkgs+=("$m/$b@$CONTAINERD_VERSION"); done
	say "go install containerd, containerd-shim-runc-v2, ctr $CONTAINERD_VERSION (≈ 1–2 min cold)"
	GOBIN=$BIN CGO_ENABLED=0 GOFLAGS=-mod=mod go install -v -trimpath -ldflags='-s -w' \
		-tags 'no_btrfs no_devmapper no_zfs' "${pkgs[@]}" 2>&1 | progress containerd "$(date +%s)"
	for b in containerd containerd-shim-runc-v2 ctr; do
		[[ -x $BIN/$b ]] || die "go install produced no $b"
		echo "$CONTAINERD_VERSION" >"$BIN/.$b.version"
	done
	echo "$((SECONDS - start))" >"$BIN/.containerd.buildtime"
	say "containerd built in $((SECONDS - start)) s"
}

timed() { # <name> <fn...>: runs a step and records its wall time for the timing report
	local name=$1 start=$SECONDS
	shift
	"$@"
	echo "$((SECONDS - start))" >"$BIN/.step-$name.seconds"
}

all() {
	local start=$SECONDS
	timed apt apt_deps
	timed peers bash "$ROOT/e2e/peers.sh" apt
	timed cni bash "$ROOT/e2e/peers.sh" cni
	timed control-plane bash "$ROOT/install/e2e-k8s.sh" build
	timed kubelet kubelet
	timed containerd containerd
	timed agent bash "$ROOT/e2e/peers.sh" agent
	timed helm bash "$ROOT/e2e/peers.sh" helm
	say "all peers ready in $((SECONDS - start)) s (this run: $(step_times))"
}

# step_times summarizes this run's steps (≈ 0 s each when everything was cached).
step_times() {
	local n out=()
	for n in apt peers cni control-plane kubelet containerd agent helm; do
		out+=("$n $(cat "$BIN/.step-$n.seconds" 2>/dev/null || echo '?') s")
	done
	local IFS=,
	echo "${out[*]}"
}

case ${1:-all} in
all) all ;;
apt) apt_deps ;;
kubelet) kubelet ;;
containerd) containerd ;;
*) echo "usage: $0 [all|kubelet|containerd|apt]" >&2; exit 2 ;;
esac
