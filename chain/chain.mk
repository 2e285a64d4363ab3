# Plugin tests: unit (no root), netns (root), cnitool with the real Flannel plugin (root), short fuzzing.
FUZZTIME ?= 10s

.PHONY: test test-unit test-fuzz-short fuzz
test: build peers test-unit test-fuzz-short ## the README's test command

test-unit: ## every Go test; the netns and cnitool ones need root and skip without it
	CILIUM_CHAIN_BIN=$(BIN)/cilium-chain PEER_BIN=$(PEER_DIR)/bin \
		$(GO) test -count=1 -timeout 20m ./chain/... ./plugin/... ./install/...

test-fuzz-short: ## each fuzz target briefly
	@for t in $$($(GO) test -list '^Fuzz' ./chain/ | grep ^Fuzz); do \
		echo "fuzz chain $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./chain/ || exit 1; done
