# install/ — the cilium-chain-install installer, its manifest and their tests.
# Included by the top-level Makefile (which builds ./install in `make build`).

.PHONY: install-test install-fuzz e2e-k8s e2e-k8s-peers

INSTALL_FUZZTIME ?= 30s

# (chain/chain.mk's test-unit already runs ./install/... with the rest.)
install-test: ## installer unit, golden, file-system and manifest tests (root-only ones skip as non-root)
	$(GO) test ./install/...

install-fuzz: ## fuzz the conflist transform; findings land in testdata/fuzz/FuzzDeriveConflist
	$(GO) test ./install -run '^$$' -fuzz FuzzDeriveConflist -fuzztime $(INSTALL_FUZZTIME)

e2e-k8s-peers: ## build kube-apiserver/controller-manager/scheduler v1.35.4 and kwok into $(PEER_DIR)
	bash install/e2e-k8s.sh build

e2e-k8s: ## the manifest against a real API server: dry-run, apply, rollout status, delete
	bash install/e2e-k8s.sh run
