# cilium-chain — top-level make targets. Area-specific targets live in the *.mk files included below.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
# Real peers (cnitool, plugins, cilium-agent...) are cached outside the clone so CI on the same
# machine reuses them; override to relocate.
export PEER_DIR ?= $(HOME)/.cache/cilium-chain
# The plugin's VERSION "about" text and --version show it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags='-s -w -X main.Version=$(VERSION)'

.PHONY: all build test peers clean
all: build

build: ## plugin and installer binaries into ./bin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/cilium-chain ./plugin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/cilium-chain-install ./install

# The README's test command and what CI runs: every suite, in order (the real-agent ones must not overlap:
# one cilium-agent per machine).
test: build peers
	$(MAKE) test-unit test-fuzz-short soak-short e2e e2e-k8s e2e-cluster

peers: ## the real peers used by tests: apt packages, cnitool + reference plugins + flannel
	bash e2e/peers.sh apt
	bash e2e/peers.sh cni

clean:
	rm -rf $(BIN) .cache .work

include chain/chain.mk
-include install/install.mk
-include e2e/e2e.mk
-include bench/bench.mk
-include e2e/cluster/cluster.mk
