package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// flannelPrimary is Flannel's stock conflist (kube-flannel.yml).
const flannelPrimary = `{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}`

// testNode is a fake node: a conf dir, a bin dir and a plugin binary "in the image".
type testNode struct {
	root, confDir, binDir, source string
}

func newTestNode(t *testing.T) testNode {
	t.Helper()
	return newTestNodeAt(t, t.TempDir())
}

// newTestNodeAt is newTestNode under root, an existing dir the caller removes (e.g. on /dev/shm).
func newTestNodeAt(t *testing.T, root string) testNode {
	t.Helper()
	n := testNode{
		root:    root,
		confDir: filepath.Join(root, "etc/cni/net.d"),
		binDir:  filepath.Join(root, "opt/cni/bin"),
		source:  filepath.Join(root, "image/cilium-chain"),
	}
	for _, d := range []string{n.confDir, n.binDir, filepath.Dir(n.source)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, n.source, "#!/bin/sh\necho plugin v1\n", 0o755)
	return n
}

func (n testNode) ours() string { return filepath.Join(n.confDir, "05-cilium.conflist") }

func (n testNode) binary() string { return filepath.Join(n.binDir, "cilium-chain") }

// args are installer flags for this node with timings short enough for tests.
func (n testNode) args(extra ...string) []string {
	return append([]string{
		"--conf-dir=" + n.confDir, "--bin-dir=" + n.binDir, "--binary-source=" + n.source,
		"--ready-addr=", "--debounce=50ms", "--settle=100ms", "--resync=500ms", "--log-level=debug",
		"--cni-cache-dir=" + filepath.Join(n.root, "var/lib/cni"), "--state-dir=" + filepath.Join(n.root, "var/run/cilium-chain"),
	}, extra...)
}

func noEnv(string) (string, bool) { return "", false }

func mustConfig(t *testing.T, args []string) *config {
	t.Helper()
	cfg, err := parseConfig(args, noEnv, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig(%q): %v", args, err)
	}
	return cfg
}

// syncBuffer collects logs from the installer goroutine while the test reads them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningInstaller is an installer running in-process, as run() does in the binary.
type runningInstaller struct {
	in   *installer
	logs *syncBuffer
	stop func() error
}

func startInstaller(t *testing.T, cfg *config) *runningInstaller {
	t.Helper()
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetLevel(logrus.DebugLevel)
	in, err := newInstaller(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("installer did not stop within 10 s")
			return nil
		}
	}
	t.Cleanup(func() {
		_ = stop()
		if t.Failed() {
			t.Logf("installer logs:\n%s", logs.String())
		}
	})
	return &runningInstaller{in: in, logs: logs, stop: stop}
}

// eventually polls cond until it holds or timeout passes; it returns how long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// never checks cond stays false for d.
func never(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			t.Fatalf("%s happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func fileContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// wantErrContaining fails the test unless err is nil when want is "", or contains want otherwise.
func wantErrContaining(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one containing %q", err, want)
	}
}
