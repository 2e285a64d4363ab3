#!/usr/bin/env bash
# Installs the real peers the tests run against, cached outside the clone so a second run
# (and CI on the same machine) is fast. Usage: peers.sh apt|cni|agent|upstream-cni|helm|all
set -euo pipefail

PEER_DIR=${PEER_DIR:-$HOME/.cache/cilium-chain}
BIN=$PEER_DIR/bin
CILIUM_VERSION=${CILIUM_VERSION:-v1.20.2}
CNITOOL_VERSION=v1.3.1
PLUGINS_VERSION=v1.9.1
FLANNEL_VERSION=v0.9.1
HELM_VERSION=v3.22.0
mkdir -p "$BIN"

say() { printf '[peers] %s\n' "$*" >&2; }

apt_deps() {
	local missing=()
	for pkg in clang-19 llvm-19 etcd-server etcd-client iproute2 bpftool; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	if ((${#missing[@]})); then
		say "apt-get install ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	# Debian enables etcd as a service; the tests start their own, on their own addresses.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
}

go_install() { # <binary name> <package@version>
	local name=$1 pkg=$2 stamp="$BIN/.$1.version"
	if [[ -x $BIN/$name && $(cat "$stamp" 2>/dev/null) == "$pkg" ]]; then return; fi
	say "go install $pkg"
	GOBIN=$BIN CGO_ENABLED=0 GOFLAGS=-mod=mod go install "$pkg"
	echo "$pkg" >"$stamp"
}

cni_tools() {
	go_install cnitool github.com/containernetworking/cni/cnitool@$CNITOOL_VERSION
	for p in main/bridge main/ptp main/loopback ipam/host-local; do
		go_install "${p#*/}" github.com/containernetworking/plugins/plugins/$p@$PLUGINS_VERSION
	done
	# The real Flannel CNI plugin: v0.9.1 is the last release of the module that contains it.
	go_install flannel github.com/containernetworking/plugins/plugins/meta/flannel@$FLANNEL_VERSION
}

# cilium_build <binary> <package> [static]: builds from the cilium module in a throwaway module.
# static is how Cilium ships cilium-cni (CGO_ENABLED=0 -trimpath); the stamp records it, so a cached
# build made another way is rebuilt.
cilium_build() {
	local name=$1 pkg=$2 mode=${3:-} out="$BIN/$1" stamp="$BIN/.$1.version"
	local want="$CILIUM_VERSION${mode:+ $mode}" cgo=1 flags=()
	if [[ $mode == static ]]; then cgo=0 flags=(-trimpath); fi
	if [[ -x $out && $(cat "$stamp" 2>/dev/null) == "$want" ]]; then return; fi
	local mod=$PEER_DIR/cilium-mod-$CILIUM_VERSION
	mkdir -p "$mod"
	if [[ ! -f $mod/go.mod ]]; then
		cat >"$mod/go.mod" <<MOD
module ciliumpeer

go 1.25

require github.com/cilium/cilium $CILIUM_VERSION

// The proxy refuses the gobgp version cilium pins; this one compiles unchanged.
replace github.com/osrg/gobgp/v4 => github.com/osrg/gobgp/v4 v4.8.0
MOD
		printf 'package main\n' >"$mod/doc.go"
	fi
	say "building $name from github.com/cilium/cilium@$CILIUM_VERSION (several minutes on a cold machine; progress below)"
	local start=$SECONDS
	(cd "$mod" && CGO_ENABLED=$cgo GOFLAGS=-mod=mod go build -v "${flags[@]}" -ldflags='-s -w' -o "$out.tmp" "$pkg" 2>&1 |
		awk '{n++} n%200==0 {printf "[peers]   %s: %d packages compiled...\n", name, n > "/dev/stderr"}' name="$name")
	mv "$out.tmp" "$out"
	echo "$want" >"$stamp"
	echo "$((SECONDS - start))" >"$BIN/.$name.buildtime" # reported by the e2e timings
	say "$name built in $((SECONDS - start)) s"
}

agent() {
	cilium_build cilium-agent github.com/cilium/cilium/daemon
	# The agent compiles its datapath at runtime from bpf/ sources in the module cache.
	local dir
	dir=$(cd "$PEER_DIR/cilium-mod-$CILIUM_VERSION" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/cilium/cilium)
	ln -sfn "$dir/bpf" "$PEER_DIR/cilium-bpf"
}

upstream_cni() { cilium_build cilium-cni github.com/cilium/cilium/plugins/cilium-cni static; }

# Helm renders, lints and installs install/helm/cilium-chain (and generates the plain manifest).
helm() { go_install helm helm.sh/helm/v3/cmd/helm@$HELM_VERSION; }

case ${1:-all} in
apt) apt_deps ;;
cni) cni_tools ;;
agent) agent ;;
upstream-cni) upstream_cni ;;
helm) helm ;;
all) apt_deps; cni_tools; agent; upstream_cni; helm ;;
*) echo "usage: $0 apt|cni|agent|upstream-cni|helm|all" >&2; exit 2 ;;
esac
