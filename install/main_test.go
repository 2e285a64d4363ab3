package main

import (
	"os"
	"testing"
)

// asInstallerEnv makes the test binary behave as cilium-chain-install, so process tests can run the
// real main (signals, exit codes) without building anything: they re-exec os.Args[0] with it set.
const asInstallerEnv = "CILIUM_CHAIN_TEST_AS_INSTALLER"

// asKubeletShimEnv makes the test binary act as the kubelet's container setup (manifest_test.go).
const asKubeletShimEnv = "CILIUM_CHAIN_TEST_KUBELET_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(asInstallerEnv) == "1" {
		os.Exit(runMain(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
	}
	if spec := os.Getenv(asKubeletShimEnv); spec != "" {
		os.Exit(kubeletShim(spec))
	}
	os.Exit(m.Run())
}
