#!/usr/bin/env bash
# images.sh — the e2e cluster's images as OCI archives, without Docker: static binaries packed into
# single-layer images by imagebuild (go-containerregistry), for `ctr -n k8s.io images import`.
#   installer-v1.tar  the manifest's own image reference (install/kubernetes/cilium-chain.yaml), so the
#                     manifest is applied unchanged; plugin built with -X main.Version=<its tag>
#   installer-v2.tar  <same repository>:<tag>-rollout, plugin version <tag>-rollout (the rollout step)
#   pause.tar         registry.k8s.io/pause:3.10.1 (containerd's pinned sandbox image)
#   testapp.tar       e2e.local/cilium-chain-testapp:v1 (TCP server/client for the policy checks)
# Paths inside the installer image are the Dockerfile's: /usr/local/bin/cilium-chain-install and
# /opt/cilium-chain/bin/cilium-chain (the installer's --binary-source default).
# images.json lists the references for the test.
#
# Usage: images.sh <out dir>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:?usage: images.sh <out dir>}
MANIFEST=$ROOT/install/kubernetes/cilium-chain.yaml
say() { printf '[cluster-images] %s\n' "$*" >&2; }

start=$SECONDS
mkdir -p "$OUT/v1" "$OUT/v2" "$OUT/tools"
ref1=$(awk '$1 == "image:" {print $2; exit}' "$MANIFEST")
[[ $ref1 == *:* ]] || { say "no image: line with a tag in $MANIFEST"; exit 1; }
tag1=${ref1##*:}
ref2=${ref1%:*}:$tag1-rollout
pause=registry.k8s.io/pause:3.10.1
testapp=e2e.local/cilium-chain-testapp:v1

gobuild() { # <out> <package> [ldflags...]
	local out=$1 pkg=$2
	shift 2
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -tags cluster -ldflags="-s -w $*" -o "$out" "$pkg")
}
gobuild "$OUT/v1/cilium-chain" ./plugin "-X main.Version=$tag1"
gobuild "$OUT/v2/cilium-chain" ./plugin "-X main.Version=$tag1-rollout"
gobuild "$OUT/v1/cilium-chain-install" ./install "-X main.Version=$tag1"
cp "$OUT/v1/cilium-chain-install" "$OUT/v2/cilium-chain-install"
gobuild "$OUT/tools/pause" ./e2e/cluster/pause
gobuild "$OUT/tools/testapp" ./e2e/cluster/testapp
(cd "$ROOT/e2e/cluster/imagebuild" && CGO_ENABLED=0 go build -trimpath -o "$OUT/tools/imagebuild" .)

ib=$OUT/tools/imagebuild
for v in v1 v2; do
	ref=$ref1
	[[ $v == v2 ]] && ref=$ref2
	"$ib" -o "$OUT/installer-$v.tar" -tag "$ref" \
		-add "$OUT/$v/cilium-chain-install=/usr/local/bin/cilium-chain-install" \
		-add "$OUT/$v/cilium-chain=/opt/cilium-chain/bin/cilium-chain" \
		-entrypoint /usr/local/bin/cilium-chain-install
done
"$ib" -o "$OUT/pause.tar" -tag "$pause" -add "$OUT/tools/pause=/pause" -entrypoint /pause
"$ib" -o "$OUT/testapp.tar" -tag "$testapp" -add "$OUT/tools/testapp=/testapp" -entrypoint /testapp

cat >"$OUT/images.json" <<JSON
{
  "installer": "$ref1",
  "installerNext": "$ref2",
  "pause": "$pause",
  "testApp": "$testapp",
  "archives": ["installer-v1.tar", "installer-v2.tar", "pause.tar", "testapp.tar"]
}
JSON
say "images built in $((SECONDS - start)) s: $ref1, $ref2, $pause, $testapp"
