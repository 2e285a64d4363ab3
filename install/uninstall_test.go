package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type uninstallNodeDirs struct{ conf, bin, image string }

func newUninstallNode(t *testing.T, conflist, binary string) uninstallNodeDirs {
	t.Helper()
	root := t.TempDir()
	d := uninstallNodeDirs{conf: filepath.Join(root, "net.d"), bin: filepath.Join(root, "bin"), image: filepath.Join(root, "image-plugin")}
	for _, dir := range []string{d.conf, d.bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(d.conf, "05-cilium.conflist"), conflist, 0o644)
	writeFile(t, filepath.Join(d.conf, "10-flannel.conflist"), flannelConflist, 0o644)
	writeFile(t, filepath.Join(d.bin, "cilium-chain"), binary, 0o755)
	writeFile(t, d.image, "the plugin\n", 0o755)
	return d
}

func (d uninstallNodeDirs) run(t *testing.T, readyAddr string) int {
	t.Helper()
	var stderr bytes.Buffer
	code := runMain([]string{"uninstall", "--conf-dir=" + d.conf, "--bin-dir=" + d.bin, "--binary-source=" + d.image,
		"--uninstall-binary", "--ready-addr=" + readyAddr, "--wait-installer=3s"}, func(string) (string, bool) { return "", false }, &bytes.Buffer{}, &stderr)
	t.Logf("uninstall: exit %d\n%s", code, stderr.String())
	return code
}

// TestUninstallWaitsForTheInstallerThenRemovesOurFiles: while something answers on the readiness
// address nothing is removed; once it stops, our conflist and binary go and the primary stays.
func TestUninstallWaitsForTheInstallerThenRemovesOurFiles(t *testing.T) {
	d := newUninstallNode(t, chainedConflist, "the plugin\n")
	ln := fakeInstallerPort(t)
	addr := ln.Addr().String()
	stopped := make(chan time.Time, 1)
	go func() {
		time.Sleep(time.Second)
		// Our files are still there while the "installer" runs.
		if !exists(filepath.Join(d.conf, "05-cilium.conflist")) {
			t.Error("conflist removed while the installer still answered")
		}
		ln.Close()
		stopped <- time.Now()
	}()
	if code := d.run(t, addr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	<-stopped
	if exists(filepath.Join(d.conf, "05-cilium.conflist")) || exists(filepath.Join(d.bin, "cilium-chain")) {
		t.Fatal("our conflist or binary is still there")
	}
	if !exists(filepath.Join(d.conf, "10-flannel.conflist")) {
		t.Fatal("the primary's conflist was removed")
	}
}

func TestUninstallLeavesWhatIsNotOurs(t *testing.T) {
	d := newUninstallNode(t, flannelConflist, "another build\n")
	if code := d.run(t, ""); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !exists(filepath.Join(d.conf, "05-cilium.conflist")) || !exists(filepath.Join(d.bin, "cilium-chain")) {
		t.Fatal("a conflist without our entry, or a binary that is not the image's, was removed")
	}
}

func TestUninstallGivesUpWhileTheInstallerRuns(t *testing.T) {
	d := newUninstallNode(t, chainedConflist, "the plugin\n")
	ln := fakeInstallerPort(t)
	defer ln.Close()
	if code := d.run(t, ln.Addr().String()); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !exists(filepath.Join(d.conf, "05-cilium.conflist")) {
		t.Fatal("conflist removed under a running installer")
	}
}

// fakeInstallerPort answers TCP connections like a running installer's readiness endpoint.
func fakeInstallerPort(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}
