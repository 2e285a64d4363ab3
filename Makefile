# cilium-chain — top-level make targets. Area-specific targets live in the *.mk files included below.
SHELL := /bin/bash
# A pipeline fails when any part does: `go test … | testfilter` fails with the tests.
.SHELLFLAGS := -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin
# Real peers (cnitool, plugins, cilium-agent...) are cached outside the clone so CI on the same
# machine reuses them; override to relocate.
export PEER_DIR ?= $(HOME)/.cache/cilium-chain
# The plugin's VERSION "about" text and --version show it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags='-s -w -X main.Version=$(VERSION)'

.PHONY: all build test check peers clean
all: build

build: ## plugin and installer binaries into ./bin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/cilium-chain ./plugin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/cilium-chain-install ./install

# The README's test command and what CI runs: static checks, then every suite, in order (the real-agent
# ones must not overlap: one cilium-agent per machine).
test: build peers
	$(MAKE) check test-unit test-fuzz-short soak-short e2e e2e-k8s e2e-cluster

# Every `go test` of a suite goes through testfilter: the log shows each test's PASS/FAIL/SKIP line and a
# failed test's whole output, not every t.Log line; under CI=true a skipped test fails the run.
TESTFILTER := $(BIN)/testfilter
GOTEST_JSON = CILIUM_CHAIN_BIN=$(BIN)/cilium-chain PEER_BIN=$(PEER_DIR)/bin $(GO) test -json
TO_FILTER = 2>&1 | $(TESTFILTER)
$(TESTFILTER): $(wildcard internal/testfilter/*.go)
	$(GO) build -o $@ ./internal/testfilter

check: ## gofmt, a build of every package (bench and the e2e harnesses too), go vet with every build tag
	@bad=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$bad" || { echo "gofmt -l:"; echo "$$bad"; exit 1; }
	$(GO) build ./...
	$(GO) vet -tags e2e,cluster,clusterbench,importchain ./...
	cd e2e/cluster/imagebuild && $(GO) vet .

peers: ## the real peers used by tests: apt packages, cnitool + reference plugins + flannel, helm
	bash e2e/peers.sh apt
	bash e2e/peers.sh cni
	bash e2e/peers.sh helm

clean:
	rm -rf $(BIN) .cache .work

include chain/chain.mk
-include install/install.mk
-include install/helm/helm.mk
-include e2e/e2e.mk
-include bench/bench.mk
-include e2e/cluster/cluster.mk
