# syntax=docker/dockerfile:1
# The image install/kubernetes/cilium-chain.yaml runs:
#   /opt/cilium-chain/bin/cilium-chain    the CNI plugin, which the installer copies to the host
#   /usr/local/bin/cilium-chain-install   the installer, the DaemonSet's command
# Both are static Go binaries (CGO_ENABLED=0) on distroless/static: no libc, no shell.
#   docker build -t ghcr.io/cilium-chain/cilium-chain:v0.1.0 .
# The development machines have no Docker engine, so this file is not built there; `make build` runs
# the same two go build commands.

ARG GO_VERSION=1.26
# The runtime base (see the final stage for why it is not pinned here); global so FROM can use it.
ARG BASE_IMAGE=gcr.io/distroless/static:latest
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.1.0
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w -X main.Version=${VERSION}" -o /out/cilium-chain ./plugin && \
    go build -trimpath -ldflags="-s -w -X main.Version=${VERSION}" -o /out/cilium-chain-install ./install

# The :latest (root) variant: the installer must run as uid 0, without any capability (see the manifest).
# NOT pinned yet: the development machines cannot reach gcr.io, so no digest could be read from the
# registry itself, and a digest copied from elsewhere is not one we can vouch for. A release pins it:
#   docker build --build-arg BASE_IMAGE=gcr.io/distroless/static@$(crane digest gcr.io/distroless/static:latest) ...
FROM ${BASE_IMAGE}
COPY --from=build /out/cilium-chain /opt/cilium-chain/bin/cilium-chain
COPY --from=build /out/cilium-chain-install /usr/local/bin/cilium-chain-install
USER 0:0
ENTRYPOINT ["/usr/local/bin/cilium-chain-install"]
