#!/usr/bin/env bash
# e2e-k8s: the installer manifest against a real Kubernetes control plane.
#
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from the k8s.io/kubernetes module
# (cached under $PEER_DIR), runs them with Debian etcd on 127.0.0.1 and kwok fake nodes, then asserts
# that `kubectl apply --dry-run=server`, the real apply, `rollout status` of the DaemonSet and
# `kubectl delete` all succeed. Everything it starts is killed by PID and its temp dir removed, even
# on failure.
#
# Usage: e2e-k8s.sh [build|run]   (run, the default, builds first when needed)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.35.4}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
PEER_DIR=${PEER_DIR:-$HOME/.cache/cilium-chain}
BIN=$PEER_DIR/bin
# Non-default ports so a developer's own etcd/apiserver (or another test) never clashes with this one.
ETCD_PORT=${E2E_K8S_ETCD_PORT:-23790}
ETCD_PEER_PORT=${E2E_K8S_ETCD_PEER_PORT:-23800}
API_PORT=${E2E_K8S_API_PORT:-26443}
KWOK_PORT=${E2E_K8S_KWOK_PORT:-26447}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MANIFEST=${MANIFEST:-$HERE/kubernetes/cilium-chain.yaml}
CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler)
KUBECTL=$(command -v kubectl || true)
if [[ -z $KUBECTL || ${E2E_K8S_OWN_KUBECTL:-0} == 1 ]]; then KUBECTL=$BIN/kubectl; fi

say() { printf '[e2e-k8s] %s\n' "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Peers: etcd (Debian), kubectl, the control plane and kwok.

apt_deps() {
	command -v etcd >/dev/null 2>&1 && return
	say "etcd missing: apt-get install etcd-server"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
	# Debian starts etcd as a service on the default ports; this test runs its own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
}

# k8s_module writes a throwaway module that requires k8s.io/kubernetes and replaces every staging
# module (listed by k8s.io/kubernetes' own go.mod as ./staging/src/k8s.io/...) with its v0.x tag.
k8s_module() {
	local mod=$1 staging="v0.${K8S_VERSION#v1.}" gomod
	mkdir -p "$mod"
	[[ -f $mod/go.mod ]] && return
	gomod=$(cd "$mod" && GOFLAGS=-mod=mod go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@$K8S_VERSION")
	{
		printf 'module k8speer\n\ngo 1.25\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
		awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "\t%s => %s %s\n", $1, $1, v}' "$gomod"
		printf ')\n'
	} >"$mod/go.mod.tmp"
	grep -q 'k8s.io/client-go => k8s.io/client-go' "$mod/go.mod.tmp" || die "no staging replaces found in $gomod"
	printf 'package k8speer\n' >"$mod/doc.go"
	mv "$mod/go.mod.tmp" "$mod/go.mod"
}

control_plane() {
	local want=("${CONTROL_PLANE[@]}") need=() b
	# kubectl is usually preinstalled; on a fresh machine (or with E2E_K8S_OWN_KUBECTL=1) build the
	# one matching the server.
	[[ $KUBECTL == "$BIN/kubectl" ]] && want+=(kubectl)
	for b in "${want[@]}"; do
		[[ -x $BIN/$b && $(cat "$BIN/.$b.version" 2>/dev/null) == "$K8S_VERSION" ]] || need+=("$b")
	done
	((${#need[@]})) || return 0
	local mod=$PEER_DIR/k8s-mod-$K8S_VERSION out=$BIN/.k8s-build.tmp start=$SECONDS epoch pkgs=()
	k8s_module "$mod"
	for b in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	say "building ${need[*]} $K8S_VERSION from k8s.io/kubernetes (≈ 5 min cold on 2 idle cores, more when busy; progress below)"
	rm -rf "$out" && mkdir -p "$out"
	epoch=$(date +%s)
	local ver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ver+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
	# One `go build` for all of them: shared packages compile once.
	(cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags="-s -w $ver" -o "$out/" "${pkgs[@]}" 2>&1 |
		awk -v s="$epoch" '{n++} n%250==0 {printf "[e2e-k8s]   %d packages compiled (%d s)\n", n, systime()-s > "/dev/stderr"}
			/^(go: |#|.*\.go:[0-9]+)/ {print > "/dev/stderr"}')
	for b in "${need[@]}"; do
		[[ -x $out/$b ]] || die "build produced no $b"
		mv "$out/$b" "$BIN/$b"
		echo "$K8S_VERSION" >"$BIN/.$b.version"
	done
	rm -rf "$out"
	say "built ${need[*]} in $((SECONDS - start)) s"
}

# kwok plays the kubelet of fake nodes; it needs "stages" (how nodes and pods evolve): the stock
# fast ones from its own module (node-initialize, node-heartbeat, pod-ready/complete/delete).
KWOK_STAGES=$BIN/kwok-stages-$KWOK_VERSION.yaml
kwok_bin() {
	if [[ ! -x $BIN/kwok || $(cat "$BIN/.kwok.version" 2>/dev/null) != "$KWOK_VERSION" ]]; then
		say "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
		GOBIN=$BIN CGO_ENABLED=0 GOFLAGS=-mod=mod go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
		echo "$KWOK_VERSION" >"$BIN/.kwok.version"
	fi
	[[ -s $KWOK_STAGES ]] && return
	local dir f
	dir=$(cd "$BIN" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[[ -d $dir/kustomize/stage ]] || die "kwok stages not found in the module (dir '$dir')"
	for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		printf -- '---\n'
		cat "$dir/kustomize/stage/$f"
	done >"$KWOK_STAGES.tmp"
	mv "$KWOK_STAGES.tmp" "$KWOK_STAGES"
}

build() {
	mkdir -p "$BIN"
	local start=$SECONDS
	apt_deps
	kwok_bin
	control_plane
	say "peers ready in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------------------------
# The cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, all on 127.0.0.1.

PIDS=()
NAMES=()
WORK=

cleanup() {
	local rc=$? pid i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if ((rc != 0)) && [[ -n $WORK && -d $WORK/logs ]]; then
		for f in "$WORK"/logs/*.log; do say "--- last lines of $(basename "$f")"; tail -n 15 "$f" >&2; done
	fi
	# E2E_K8S_LOGS=<dir> keeps the component logs, e.g. for CI artifacts.
	if [[ -n ${E2E_K8S_LOGS:-} && -n $WORK ]]; then mkdir -p "$E2E_K8S_LOGS" && cp "$WORK"/logs/*.log "$E2E_K8S_LOGS"/ 2>/dev/null; fi
	[[ -n $WORK ]] && rm -rf "$WORK"
	exit "$rc"
}

start() { # <log name> <command...>: runs in the background and records the PID for cleanup
	local name=$1
	shift
	"$@" >"$WORK/logs/$name.log" 2>&1 &
	PIDS+=($!)
	NAMES+=("$name")
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# all_alive fails (naming the log) as soon as something we started has exited.
all_alive() {
	local i
	for i in "${!PIDS[@]}"; do
		kill -0 "${PIDS[i]}" 2>/dev/null || die "${NAMES[i]} exited early (see its log below)"
	done
}

wait_for() { # <what> <timeout s> <command...>
	local what=$1 timeout=$2 end=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		all_alive
		((SECONDS < end)) || die "$what not ready within ${timeout} s"
		sleep 0.2
	done
}

k() { "$KUBECTL" --kubeconfig="$WORK/kubeconfig" "$@"; }

# node <name> <taints yaml>: a Node object kwok will run (kwok plays its kubelet).
node() {
	k apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $1
    kubernetes.io/os: linux
    type: kwok
spec:
  taints: $2
NODE
}

run() {
	local p
	for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KWOK_PORT"; do
		port_free "$p" || die "port 127.0.0.1:$p is taken (set E2E_K8S_*_PORT to move it)"
	done
	WORK=$(mktemp -d /tmp/cilium-chain-e2e-k8s.XXXXXX)
	trap cleanup EXIT
	trap 'say "interrupted: cleaning up"; exit 130' INT TERM
	mkdir -p "$WORK/logs" "$WORK/certs"
	local t0=$SECONDS token
	token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "$token,e2e-admin,e2e-admin,system:masters" >"$WORK/tokens.csv"
	openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
	cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
KC

	say "starting etcd on 127.0.0.1:$ETCD_PORT"
	# Frequent watch progress notifications let the apiserver's watch cache learn the current
	# revision; with etcd's default (10 min) reads at a fresh resourceVersion of a quiet resource
	# time out ("Too large resource version") and controllers crawl through retries.
	start etcd etcd --name e2e --data-dir "$WORK/etcd" --experimental-watch-progress-notify-interval=1s \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT"
	say "starting kube-apiserver $K8S_VERSION on 127.0.0.1:$API_PORT"
	# WatchList=false: streaming watch-lists need etcd's RequestWatchProgress, which Debian's etcd
	# 3.4.23 lacks; kwok's client-go asks for them anyway, each watch fails, and kwok only sees pods
	# on its backed-off re-lists (a rolling update then took 60-80 s instead of 1 s).
	start kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" --etcd-prefix=/cilium-chain-e2e \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" --cert-dir="$WORK/certs" \
		--token-auth-file="$WORK/tokens.csv" --authorization-mode=Node,RBAC \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$WORK/sa.key" --service-account-signing-key-file="$WORK/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 --allow-privileged=false \
		--feature-gates=WatchList=false
	wait_for "kube-apiserver" 120 k get --raw=/readyz
	local api_ready=$((SECONDS - t0))
	say "kube-apiserver ready $api_ready s after start"

	start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$WORK/kubeconfig" \
		--leader-elect=false --bind-address=127.0.0.1 --secure-port=0 \
		--service-account-private-key-file="$WORK/sa.key" --use-service-account-credentials=false
	start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$WORK/kubeconfig" \
		--leader-elect=false --bind-address=127.0.0.1 --secure-port=0
	start kwok "$BIN/kwok" --kubeconfig="$WORK/kubeconfig" --config="$KWOK_STAGES" \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--server-address="127.0.0.1:$KWOK_PORT" --node-ip=127.0.0.1 --cidr=10.0.0.0/24
	# Two fake nodes: one plain, one tainted like a control-plane node with an extra NoExecute taint,
	# so rollout status also shows the DaemonSet tolerates every taint.
	node kwok-node-0 '[]'
	node kwok-node-1 '[{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}, {key: example.com/dedicated, value: infra, effect: NoExecute}]'
	wait_for "fake nodes Ready" 60 k wait --for=condition=Ready node --all --timeout=1s
	say "2 kwok nodes Ready"

	local out
	# A manifest with a field the API does not know must be refused: shows the dry run can fail.
	sed 's/^  updateStrategy:/  updateStrategyTypo:/' "$MANIFEST" >"$WORK/broken.yaml"
	cmp -s "$MANIFEST" "$WORK/broken.yaml" && die "could not make a broken copy of the manifest"
	if k apply --dry-run=server --validate=strict -f "$WORK/broken.yaml" >"$WORK/logs/broken.out" 2>&1; then
		die "a DaemonSet with an unknown field passed the server-side dry run"
	fi
	say "ok: a broken copy of the manifest is rejected: $(grep -o 'unknown field[^,]*' "$WORK/logs/broken.out" | head -1)"

	out=$(k apply --dry-run=server --validate=strict -f "$MANIFEST") || die "kubectl apply --dry-run=server failed"
	grep -q 'daemonset.apps/cilium-chain created (server dry run)' <<<"$out" || die "dry run did not create the DaemonSet: $out"
	k -n kube-system get ds cilium-chain >/dev/null 2>&1 && die "the dry run persisted the DaemonSet"
	say "ok: kubectl apply --dry-run=server --validate=strict"
	printf '%s\n' "$out" | sed 's/^/[e2e-k8s]     /' >&2

	out=$(k apply -f "$MANIFEST") || die "kubectl apply failed"
	say "ok: kubectl apply"
	printf '%s\n' "$out" | sed 's/^/[e2e-k8s]     /' >&2

	local t_roll=$SECONDS
	k -n kube-system rollout status ds/cilium-chain --timeout=180s >&2 || die "rollout status failed"
	local ready desired
	out=$(k -n kube-system get ds cilium-chain -o jsonpath='{.status.desiredNumberScheduled} {.status.numberReady}')
	read -r desired ready <<<"$out"
	[[ $desired == 2 && $ready == 2 ]] || die "DaemonSet has $ready/$desired ready pods, want 2/2 (one per node)"
	local rollout=$((SECONDS - t_roll))
	say "ok: rollout status ds/cilium-chain: $ready/$desired pods ready, one per node (${rollout} s)"
	k -n kube-system get pods -l app.kubernetes.io/name=cilium-chain -o wide >&2

	# An upgrade is a rolling update, one node at a time (maxUnavailable 1).
	local t_upd=$SECONDS
	k -n kube-system rollout restart ds/cilium-chain >&2 || die "rollout restart failed"
	k -n kube-system rollout status ds/cilium-chain --timeout=180s >&2 || die "rolling update did not finish"
	[[ $(k -n kube-system get ds cilium-chain -o jsonpath='{.status.updatedNumberScheduled}') == 2 ]] ||
		die "not every node got the updated pod"
	say "ok: rolling update (rollout restart + rollout status) in $((SECONDS - t_upd)) s"

	k delete -f "$MANIFEST" --wait=true --timeout=120s >&2 || die "kubectl delete failed"
	k -n kube-system get ds cilium-chain >/dev/null 2>&1 && die "the DaemonSet still exists after delete"
	k -n kube-system get configmap cilium-chain-config >/dev/null 2>&1 && die "the ConfigMap still exists after delete"
	# The garbage collector takes the pods away, and kwok "stops" them on the fake nodes.
	wait_for "the DaemonSet's pods to go" 60 bash -c "[[ -z \$('$KUBECTL' --kubeconfig='$WORK/kubeconfig' -n kube-system get pods -l app.kubernetes.io/name=cilium-chain -o name) ]]"
	say "ok: kubectl delete (DaemonSet, ConfigMap, ServiceAccount and pods gone)"
	say "PASS (apiserver ready in ${api_ready} s, rollout ${rollout} s, total $((SECONDS - t0)) s; kubectl $("$KUBECTL" version --client -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | head -1))"
}

case ${1:-run} in
build) build ;;
run) build; run ;;
*) echo "usage: $0 [build|run]" >&2; exit 2 ;;
esac
