# e2e: cilium-chain against the real cilium-agent (root only). Included by the top-level Makefile.
E2E_GOTEST = $(GOTEST_JSON) -tags e2e -count=1

.PHONY: e2e demo e2e-peers e2e-vet

e2e-peers: ## apt deps, cnitool + plugins + Flannel, cilium-agent and cilium-cni v1.20.2 (cached in PEER_DIR)
	bash e2e/peers.sh all

e2e: build e2e-peers $(TESTFILTER) ## the end-to-end suite against the real agent (needs root, ~5 min warm)
	$(E2E_GOTEST) -timeout 30m ./e2e/ $(TO_FILTER)

# The demo's narrative (the test's stdout) goes straight out; the harness's own log lines are held
# back by testfilter and shown only if the demo fails.
demo: build e2e-peers $(TESTFILTER) ## narrated walkthrough: Flannel pods under Cilium eBPF policy, then teardown
	@echo "[demo] compiling the demo (a few seconds)..."
	@$(E2E_GOTEST) -timeout 30m -run '^TestDemo$$' ./e2e/ -args -demo $(TO_FILTER)

e2e-vet: ## static checks of the e2e harness (package e2e only; builds with the e2e tag)
	@test -z "$$(gofmt -l e2e/*.go)" || { gofmt -l e2e/*.go; exit 1; }
	$(GO) vet -tags e2e ./e2e/
