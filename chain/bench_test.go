package chain

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
)

// The in-process hot paths of one ADD, without exec, netlink or the agent: what make bench's process
// figures cannot separate. Inputs are a Flannel 0.3.1 prevResult as the plugin receives it.

func benchStdin(b *testing.B) []byte {
	b.Helper()
	prev, err := os.ReadFile(filepath.Join("..", "testdata", "prevresult", "flannel-0.3.1.json"))
	if err != nil {
		b.Fatal(err)
	}
	stdin, err := json.Marshal(map[string]any{
		"cniVersion": "0.3.1", "name": "cbr0", "type": "cilium-chain",
		"socket-path": "/var/run/cilium/cilium.sock", "log-level": "info",
		"labels":      []string{"k8s:io.cilium.k8s.policy.cluster=default"},
		"args-labels": map[string]string{"K8S_POD_NAMESPACE": "k8s:io.kubernetes.pod.namespace"},
		"label-args":  []string{"app"},
		"prevResult":  json.RawMessage(prev),
	})
	if err != nil {
		b.Fatal(err)
	}
	return stdin
}

const benchArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=1b4e28ba-2fa1-11d2-883f-0016d3cca427;CILIUM_LABEL_app=web"

func noEnv(string) string { return "" }

// BenchmarkLoadConfig: stdin → validated Config (three JSON decodes and the key checks).
func BenchmarkLoadConfig(b *testing.B) {
	stdin := benchStdin(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadConfig(stdin, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfigAndPrevResult: what ADD does before touching the kernel: config, prevResult,
// the pod attachment and CNI_ARGS.
func BenchmarkConfigAndPrevResult(b *testing.B) {
	stdin := benchStdin(b)
	b.ReportAllocs()
	for b.Loop() {
		conf, err := LoadConfig(stdin, noEnv)
		if err != nil {
			b.Fatal(err)
		}
		res, err := prevResult(conf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := podAttachment(res, "eth0"); err != nil {
			b.Fatal(err)
		}
		if _, err := parseCNIArgs(benchArgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEndpointRequest: labels + the EndpointChangeRequest + its JSON body, as PUT sends it.
func BenchmarkEndpointRequest(b *testing.B) {
	conf, err := LoadConfig(benchStdin(b), noEnv)
	if err != nil {
		b.Fatal(err)
	}
	res, err := prevResult(conf)
	if err != nil {
		b.Fatal(err)
	}
	att, err := podAttachment(res, "eth0")
	if err != nil {
		b.Fatal(err)
	}
	args, err := parseCNIArgs(benchArgs)
	if err != nil {
		b.Fatal(err)
	}
	c := &Call{Conf: conf, ContainerID: "0123456789abcdef", Netns: "/var/run/netns/pod", IfName: "eth0", Args: args,
		Log: logrus.NewEntry(logrus.New())}
	pair := &vethPair{PodName: "eth0", PodIndex: 2, PodMAC: "0a:58:0a:f4:01:05", HostName: "veth1234abcd", HostIndex: 7, HostMAC: "5e:2d:7a:11:22:33"}
	b.ReportAllocs()
	for b.Loop() {
		labels, _, err := endpointLabels(conf, args)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(endpointRequest(c, att, pair, labels)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddDel: ADD then DEL of one pod as the plugin runs them (config, call, veth discovery over
// netlink, record, PUT; config, DELETE), on a real veth against the fake agent, logging at info level
// to nowhere. Needs root. Its CPU profile is the one bench/profile.md tried as a PGO profile.
func BenchmarkAddDel(b *testing.B) {
	env, n, p := podEnv(b)
	add := env.conf("0.3.1", map[string]any{"prevResult": p.prevResult("0.3.1")})
	del := env.conf("0.3.1", nil)
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	call := func(stdin []byte, load func([]byte, func(string) string) (*Config, error)) *Call {
		conf, err := load(stdin, noEnv)
		if err != nil {
			b.Fatal(err)
		}
		c, err := NewCall(conf, "0123456789abcdef", p.ns.Path(), "eth0", benchArgs, logrus.NewEntry(logger))
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	for b.Loop() {
		if _, err := addInNode(n, call(add, LoadConfig)); err != nil {
			b.Fatal(err)
		}
		if err := n.run(func() error { return call(del, LoadConfigLenient).Del(context.Background()) }); err != nil {
			b.Fatal(err)
		}
	}
}
