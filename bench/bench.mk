# make bench: cilium-chain side by side with upstream cilium-cni v1.20.2 (issue 5). Root only: it makes
# network namespaces and runs the real cilium-agent (under /run/cilium-chain-agent.lock). Writes
# bench/results.md and bench/results.png. Included by the top-level Makefile.
BENCH_FLAGS ?=

.PHONY: bench bench-quick bench-peers bench-vet bench-ab

bench-peers: peers ## what the benchmarks run: the CNI peers, upstream cilium-cni, the real agent, GNU time
	bash e2e/peers.sh upstream-cni
	bash e2e/peers.sh agent
	@test -x /usr/bin/time || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null; }

bench: build bench-peers ## the full benchmark (~8 min; the agent-default limiter scenarios take ~6)
	$(GO) run ./bench/cmd/ccbench $(BENCH_FLAGS)

bench-quick: build bench-peers ## a smoke run: fewer rounds, no slow limiter, no real agent; results in bench/tmp
	$(GO) run ./bench/cmd/ccbench -cycles 20 -proc-runs 5 -pods 20 -slow=false -real=false \
		-out bench/tmp/results.md -chart bench/tmp/results.png $(BENCH_FLAGS)

# e.g. make bench-ab AB=old=/tmp/cilium-chain.old,new=bin/cilium-chain: builds of the plugin compared
# process by process (ADD then DEL exec'd directly, interleaved; medians of wall, CPU, page faults).
AB ?= current=bin/cilium-chain
AB_RUNS ?= 60
bench-ab: build bench-peers ## compare plugin builds per process (AB=name=path,…); run it under the heavy lock
	$(GO) run ./bench/cmd/ccbench -ab $(AB) -proc-runs $(AB_RUNS)

bench-vet: ## static checks of the benchmark code
	@test -z "$$(gofmt -l bench/*.go bench/noop bench/cmd chain/bench_test.go)" || { gofmt -l bench/*.go bench/noop bench/cmd chain/bench_test.go; exit 1; }
	$(GO) vet ./bench/...
