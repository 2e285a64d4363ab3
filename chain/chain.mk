# Plugin tests: unit (no root), netns (root), cnitool with the real Flannel plugin (root), short fuzzing.
FUZZTIME ?= 10s

.PHONY: test-unit test-fuzz-short fuzz

test-unit: build $(TESTFILTER) ## every Go test (soak aside); the netns and cnitool ones need root and skip without it
	$(GOTEST_JSON) -count=1 -timeout 20m -skip '^TestSoak$$' ./chain/... ./plugin/... ./install/... ./e2e/peer/... ./bench/ \
		./internal/... $(TO_FILTER)

FUZZ_PKGS := ./chain/ ./install/
test-fuzz-short: ## each fuzz target briefly
	@for p in $(FUZZ_PKGS); do \
		list=$$($(GO) test -list '^Fuzz' $$p) || { echo "$$list"; echo "go test -list failed for $$p"; exit 1; }; \
		targets=$$(grep '^Fuzz' <<<"$$list") || { echo "no fuzz target in $$p"; exit 1; }; \
		for t in $$targets; do \
			echo "fuzz $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; done; done

SOAK_CYCLES ?= 1000
.PHONY: soak soak-short fuzz
# SOAK_SEED replays a run (every soak prints its seed).
soak: build peers $(TESTFILTER) ## ADD/DEL cycles through cnitool + Flannel with a randomly failing fake agent; prints counts
	SOAK_CYCLES=$(SOAK_CYCLES) SOAK_SEED=$(SOAK_SEED) $(GOTEST_JSON) -count=1 -timeout 60m -run '^TestSoak$$' ./plugin/ $(TO_FILTER)

soak-short: ## the CI variant of make soak
	$(MAKE) soak SOAK_CYCLES=150

FUZZTIME_LONG ?= 5m
fuzz: ## every fuzz target for FUZZTIME_LONG (5 min) each; findings land in <pkg>/testdata/fuzz
	$(MAKE) test-fuzz-short FUZZTIME=$(FUZZTIME_LONG)
