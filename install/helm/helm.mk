# install/helm — the chart and the plain manifest generated from it. Included by the top-level Makefile.
.PHONY: manifest helm-test

HELM ?= $(PEER_DIR)/bin/helm

manifest: ## regenerate install/kubernetes/cilium-chain.yaml from the chart (helm template, default values)
	bash e2e/peers.sh helm
	bash install/helm/render-manifest.sh $(HELM) > install/kubernetes/cilium-chain.yaml.tmp
	mv install/kubernetes/cilium-chain.yaml.tmp install/kubernetes/cilium-chain.yaml

helm-test: ## helm lint, golden renders, and the manifest == rendered chart check
	bash e2e/peers.sh helm
	$(GO) test ./install -run 'Helm|ManifestIsRenderedChart' -v
