# Plugin tests: unit (no root), netns (root), cnitool with the real Flannel plugin (root), short fuzzing.
FUZZTIME ?= 10s

.PHONY: test-unit test-fuzz-short fuzz

test-unit: ## every Go test; the netns and cnitool ones need root and skip without it
	CILIUM_CHAIN_BIN=$(BIN)/cilium-chain PEER_BIN=$(PEER_DIR)/bin \
		$(GO) test -count=1 -timeout 20m ./chain/... ./plugin/... ./install/... ./e2e/peer/...

FUZZ_PKGS := ./chain/ ./install/
test-fuzz-short: ## each fuzz target briefly
	@for p in $(FUZZ_PKGS); do for t in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
		echo "fuzz $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; done; done

SOAK_CYCLES ?= 1000
.PHONY: soak soak-short fuzz
soak: build peers ## ADD/DEL cycles through cnitool + Flannel with a randomly failing fake agent; prints counts
	set -o pipefail; SOAK_CYCLES=$(SOAK_CYCLES) CILIUM_CHAIN_BIN=$(BIN)/cilium-chain PEER_BIN=$(PEER_DIR)/bin \
		$(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./plugin/ | grep -E '^(soak:|--- |ok|FAIL|PASS)'

soak-short: ## the CI variant of make soak
	$(MAKE) soak SOAK_CYCLES=150

FUZZTIME_LONG ?= 5m
fuzz: ## every fuzz target for FUZZTIME_LONG (5 min) each; findings land in <pkg>/testdata/fuzz
	$(MAKE) test-fuzz-short FUZZTIME=$(FUZZTIME_LONG)
