# e2e/cluster — issue 7: a real single-node cluster (kubelet + containerd + control plane + the real
# cilium-agent) in its own namespaces, the installer DaemonSet applied from the manifest, and the
# seven-step scenario. Included by the top-level Makefile. Needs root.
CLUSTER_WORK := $(CURDIR)/.work/cluster

.PHONY: e2e-cluster e2e-cluster-peers e2e-cluster-images e2e-cluster-test-bin e2e-cluster-vet

e2e-cluster-peers: ## kubelet, containerd, control plane, agent, CNI plugins, runc/etcd (cached in PEER_DIR)
	bash e2e/cluster/build.sh all

e2e-cluster-images: ## OCI archives: installer (two versions), pause, test app (no Docker)
	bash e2e/cluster/images.sh $(CLUSTER_WORK)/images

e2e-cluster-test-bin:
	$(GO) test -c -tags cluster -o $(CLUSTER_WORK)/cluster.test ./e2e/cluster

# The test's -test.v output goes through testfilter (via test2json) like every suite's.
e2e-cluster: e2e-cluster-peers e2e-cluster-images e2e-cluster-test-bin $(TESTFILTER) ## the scenario of issue 7 (root; ~6 min warm)
	bash e2e/cluster/run.sh $(CLUSTER_ARGS) 2>&1 | $(GO) tool test2json -p e2e/cluster | $(TESTFILTER)

e2e-cluster-vet: ## static checks of the cluster harness (cluster tag; the image builder module too)
	@test -z "$$(gofmt -l e2e/cluster)" || { gofmt -l e2e/cluster; exit 1; }
	$(GO) vet -tags cluster ./e2e/cluster/...
	cd e2e/cluster/imagebuild && $(GO) vet .
