# e2e/cluster — issues 7 and 14: a real two-node cluster (per node kubelet + containerd + flanneld +
# the real cilium-agent; one control plane) in its own namespaces, the installer DaemonSet applied from
# the manifest, and the scenario of e2e/cluster/README.md. Included by the top-level Makefile. Needs root.
CLUSTER_WORK := $(CURDIR)/.work/cluster

.PHONY: e2e-cluster e2e-cluster-peers e2e-cluster-images e2e-cluster-test-bin e2e-cluster-vet bench-cluster bench-cluster-crash bench-cluster-test-bin

e2e-cluster-peers: ## kubelet, containerd, control plane, agent, hubble, flanneld, CNI plugins, runc/etcd/iptables (cached in PEER_DIR)
	bash e2e/cluster/build.sh all

e2e-cluster-images: ## OCI archives: installer (two versions), pause, test app (no Docker)
	bash e2e/cluster/images.sh $(CLUSTER_WORK)/images

e2e-cluster-test-bin:
	$(GO) test -c -tags cluster -o $(CLUSTER_WORK)/cluster.test ./e2e/cluster

# The test's -test.v output goes through testfilter (via test2json) like every suite's.
e2e-cluster: e2e-cluster-peers e2e-cluster-images e2e-cluster-test-bin $(TESTFILTER) ## the two-node scenario (root; ~4 min warm)
	bash e2e/cluster/run.sh $(CLUSTER_ARGS) 2>&1 | $(GO) tool test2json -p e2e/cluster | $(TESTFILTER)

# The bench mode (issue 16): TestBenchBurst, build tag clusterbench (never in e2e-cluster or make test),
# its own test binary, the same peers, images and run.sh namespaces. BENCH_CLUSTER_ARGS: e.g.
# '-bench.rounds=1 -bench.variants=chain'. Writes bench/results-node.md and bench/results-node.png.
BENCH_CLUSTER_ARGS ?=

bench-cluster-test-bin:
	$(GO) test -c -tags cluster,clusterbench -o $(CLUSTER_WORK)/cluster-bench.test ./e2e/cluster

BENCH_CLUSTER_RUN = TEST_BIN=$(CLUSTER_WORK)/cluster-bench.test bash e2e/cluster/run.sh -test.run '^TestBench'

bench-cluster: e2e-cluster-peers bench-peers e2e-cluster-images bench-cluster-test-bin $(TESTFILTER) ## pods created/deleted 40 at once on the real node: Flannel alone, + cilium-chain, + upstream cilium-cni (root; ~20 min)
	$(BENCH_CLUSTER_RUN) $(BENCH_CLUSTER_ARGS) 2>&1 | $(GO) tool test2json -p e2e/cluster | $(TESTFILTER)

bench-cluster-crash: e2e-cluster-peers bench-peers e2e-cluster-images bench-cluster-test-bin $(TESTFILTER) ## the same with the agent SIGKILLed during every burst, cilium-chain and upstream: bench/results-node-crash.md (root; ~8 min)
	$(BENCH_CLUSTER_RUN) -bench.kill-agent -bench.variants=chain,upstream -bench.rounds=3 -bench.out=$(CURDIR)/bench/results-node-crash.md $(BENCH_CLUSTER_ARGS) 2>&1 | $(GO) tool test2json -p e2e/cluster | $(TESTFILTER)

e2e-cluster-vet: ## static checks of the cluster harness (cluster tag; the image builder module too)
	@test -z "$$(gofmt -l e2e/cluster)" || { gofmt -l e2e/cluster; exit 1; }
	$(GO) vet -tags cluster ./e2e/cluster/...
	$(GO) vet -tags cluster,clusterbench ./e2e/cluster/...
	cd e2e/cluster/imagebuild && $(GO) vet .
